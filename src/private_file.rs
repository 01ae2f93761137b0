//! Writing files that may hold sensitive data (saved plans, exports with password hashes):
//! readable by their owner only from the first byte, and replaced atomically.

use std::io::Write;
use std::path::Path;

use crate::env::Env;

/// Writes `bytes` to `path` with mode 0600: a temporary file in the same directory is created
/// with that mode (never widened, never `chmod`ed afterwards), filled, synced and renamed over
/// `path`. A failure leaves `path` as it was and removes the temporary file.
///
/// # Errors
/// The first I/O error.
pub fn write(path: &Path, bytes: &[u8], env: &Env) -> std::io::Result<()> {
    let name = path.file_name().map_or_else(
        || "masctl".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let temporary = path.with_file_name(format!(
        ".{name}.{}.tmp",
        hex::encode(env.random_bytes::<6>())
    ));
    let written = create(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Creates a new file readable and writable by its owner only.
fn create(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn files_are_private_even_when_replacing_a_public_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&path, b"new", &Env::test(1)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("plan.json");
        assert!(write(&path, b"x", &Env::test(1)).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
