//! [`TestDb::copy`]: a second database with the same contents, for tests that need the same
//! starting point many times (the kill sweep starts every kill point from one seeded state).

use super::{create_from_template, new_database_name, TestDb};

impl TestDb {
    /// Creates a new database holding a copy of this one's schema and rows.
    ///
    /// PostgreSQL copies by using this database as a template, so nothing may be connected
    /// to it while the copy is made (close every connection and pool first).
    pub(crate) async fn copy(&self) -> TestDb {
        let name = new_database_name();
        create_from_template(&self.server, &name, &self.name).await;
        TestDb {
            server: self.server.clone(),
            name,
        }
    }
}
