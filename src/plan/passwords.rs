//! Planning passwords without ever seeing one: `hash` compares the stored string, plaintext
//! sources rely on the verification done before planning ([`super::Facts`]).

use super::planner::Builder;
use super::{Change, Facts, PasswordCheck, PasswordWrite, PasswordWriteSource, UserRef};
use crate::model::state::{ActualUser, DesiredPassword, DesiredUser, PasswordSource};
use crate::model::PasswordPolicy;

/// Appends a `SetPassword` when the user's current password must change.
pub(crate) fn plan(
    builder: &mut Builder,
    user: &UserRef,
    actual: &ActualUser,
    want: &DesiredUser,
    facts: &Facts,
) {
    let Some(password) = &want.password else {
        return;
    };
    if needs_write(actual, password, want.password_policy, facts) {
        builder.changes.push(Change::SetPassword {
            user: user.clone(),
            password: write_of(password),
        });
    }
}

fn needs_write(
    actual: &ActualUser,
    password: &DesiredPassword,
    policy: PasswordPolicy,
    facts: &Facts,
) -> bool {
    let Some(current) = &actual.password else {
        return true;
    };
    if policy == PasswordPolicy::Initial {
        return false;
    }
    match &password.source {
        PasswordSource::Hash { hash, version } => {
            current.hashed_password != *hash || current.version != i32::from(*version)
        }
        // Plaintext sources were verified against this very row before planning; a missing
        // answer means verification was not possible, and writing is the safe outcome.
        PasswordSource::Env(_) | PasswordSource::File(_) | PasswordSource::Literal(_) => {
            facts.passwords.get(&actual.id) != Some(&PasswordCheck::Matches)
        }
    }
}

/// Returns how a plan names the password, without its value.
pub(crate) fn write_of(password: &DesiredPassword) -> PasswordWrite {
    let source = match &password.source {
        PasswordSource::Env(name) => PasswordWriteSource::Env { name: name.clone() },
        PasswordSource::File(path) => PasswordWriteSource::File { path: path.clone() },
        PasswordSource::Hash { version, .. } => PasswordWriteSource::Hash { version: *version },
        PasswordSource::Literal(_) => PasswordWriteSource::Literal,
    };
    PasswordWrite { source }
}
