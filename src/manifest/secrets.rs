//! Passwords in a manifest: the shape checks done when loading, and [`resolve_password`], which
//! reads an `env:` or `file:` source at plan time.
//!
//! Loading never reads a secret, so CI can validate a manifest without having any. Nothing in
//! this module puts a password, a hash or a file's content into a message.

use std::io::ErrorKind;

use password_hash::PasswordHash;
use zeroize::{Zeroize, Zeroizing};

use super::error::{IssueKind, ManifestError, ManifestIssue};
use crate::model::state::{DesiredPassword, PasswordSource};
use crate::model::Secret;

/// Returns why `name` cannot be an environment variable name, or `Ok`.
pub(crate) fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err("an environment variable name is made of letters, digits and `_`, and does not start with a digit"
            .to_owned())
    }
}

/// Returns why `hash` is not a password hash MAS can verify, or `Ok`.
///
/// MAS verifies argon2id and PBKDF2-SHA256 PHC strings and bcrypt strings (mas-facts §6).
pub(crate) fn check_hash(hash: &str) -> Result<(), String> {
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| hash.starts_with(prefix))
    {
        return check_bcrypt(hash);
    }
    let algorithm = ["$argon2id$", "$pbkdf2-sha256$"]
        .iter()
        .find(|prefix| hash.starts_with(**prefix));
    if algorithm.is_none() {
        return Err(
            "the hash must be an argon2id (`$argon2id$…`), PBKDF2 (`$pbkdf2-sha256$…`) \
                    or bcrypt (`$2b$…`) string"
                .to_owned(),
        );
    }
    match PasswordHash::new(hash) {
        Ok(parsed) if parsed.salt.is_some() && parsed.hash.is_some() => Ok(()),
        Ok(_) => Err("the hash string has no salt or no hash part".to_owned()),
        // The parser's own message describes the syntax, never the value.
        Err(error) => Err(format!("the hash is not a valid PHC string ({error})")),
    }
}

/// `$2b$` + two-digit cost + `$` + 22 salt and 31 hash characters in bcrypt's base64.
fn check_bcrypt(hash: &str) -> Result<(), String> {
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, _, cost, rest] = parts.as_slice() else {
        return Err("a bcrypt hash looks like `$2b$12$` followed by 53 characters".to_owned());
    };
    let cost_ok = cost.len() == 2 && cost.parse::<u8>().is_ok_and(|c| (4..=31).contains(&c));
    if !cost_ok {
        return Err("a bcrypt hash's cost must be two digits from 04 to 31".to_owned());
    }
    let alphabet_ok = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    if rest.len() != 53 || !alphabet_ok {
        return Err("a bcrypt hash looks like `$2b$12$` followed by 53 characters".to_owned());
    }
    Ok(())
}

/// Returns the plaintext (or, for `hash`, the hash) a manifest password stands for.
///
/// `env:` reads the environment variable and `file:` the file (dropping one trailing `\n` or
/// `\r\n`, which editors add); an empty password is refused. Call it at plan time, not when
/// validating.
///
/// # Errors
/// Returns a diagnostic at the `password:` node when the variable is unset or not UTF-8, the
/// file cannot be read or is not UTF-8, or the password is empty. It never contains the secret.
pub fn resolve_password(password: &DesiredPassword) -> Result<Secret, ManifestError> {
    let origin = &password.origin;
    let fail = |kind, message: String, help: Option<&str>| {
        let mut issue =
            ManifestIssue::at(origin, kind, message, Some("for this password".to_owned()));
        if let Some(help) = help {
            issue = issue.help(help);
        }
        ManifestError::from_issues(vec![issue])
    };
    let plaintext = match &password.source {
        PasswordSource::Hash { hash, .. } => return Ok(hash.clone()),
        PasswordSource::Literal(secret) => return Ok(secret.clone()),
        PasswordSource::Env(name) => match std::env::var(name) {
            Ok(value) => Secret::new(value),
            Err(std::env::VarError::NotPresent) => {
                return Err(fail(
                    IssueKind::MissingEnvVar,
                    format!("environment variable `{name}` is not set"),
                    Some("export it before running masctl, or validate with `masctl validate` (which needs no secrets)"),
                ))
            }
            Err(std::env::VarError::NotUnicode(value)) => {
                value.into_encoded_bytes().zeroize();
                return Err(fail(
                    IssueKind::MissingEnvVar,
                    format!("environment variable `{name}` is not valid UTF-8"),
                    None,
                ));
            }
        },
        PasswordSource::File(path) => read_password_file(path).map_err(|message| {
            fail(IssueKind::UnreadablePasswordFile, message, None)
        })?,
    };
    if plaintext.expose().is_empty() {
        return Err(fail(
            IssueKind::EmptyPassword,
            format!("the password from {} is empty", describe(&password.source)),
            None,
        ));
    }
    Ok(plaintext)
}

fn read_password_file(path: &std::path::Path) -> Result<Secret, String> {
    let shown = path.display();
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|error| match error.kind() {
        ErrorKind::NotFound => format!("cannot read password file `{shown}`: no such file"),
        _ => format!("cannot read password file `{shown}`: {error}"),
    })?);
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(format!("password file `{shown}` is not valid UTF-8"));
    };
    let text = text
        .strip_suffix('\n')
        .map_or(text, |rest| rest.strip_suffix('\r').unwrap_or(rest));
    Ok(Secret::new(text))
}

fn describe(source: &PasswordSource) -> String {
    match source {
        PasswordSource::Env(name) => format!("environment variable `{name}`"),
        PasswordSource::File(path) => format!("file `{}`", path.display()),
        PasswordSource::Hash { .. } | PasswordSource::Literal(_) => "the manifest".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert!(check_env_name("ALICE_PASSWORD").is_ok());
        assert!(check_env_name("_x1").is_ok());
        assert!(check_env_name("").is_err());
        assert!(check_env_name("1ABC").is_err());
        assert!(check_env_name("A-B").is_err());
        assert!(check_env_name("A B").is_err());
    }

    #[test]
    fn hashes_mas_can_verify() {
        for hash in [
            "$argon2id$v=19$m=19456,t=2,p=1$eEi11xG8mIOZYxej+ckCaQ$eBeygPqiuImQAaFQOkE6oVkPfqxIGgnqpQd/MwW4YX4",
            "$pbkdf2-sha256$i=600000,l=32$eEi11xG8mIOZYxej+ckCaQ$uyS+Ip4DieQ9S+m1EcT+vCtuiWpQ3TsDGPLY4mwkOxc",
            "$2b$10$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X15i",
            "$2y$12$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X15i",
        ] {
            assert_eq!(check_hash(hash), Ok(()), "{hash}");
        }
        for hash in [
            "hunter2",
            "$argon2i$v=19$m=19456,t=2,p=1$eEi11xG8mIOZYxej+ckCaQ$eBeygPqiuImQAaFQOkE6oVkPfqxIGgnqpQd/MwW4YX4",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$",
            "$2b$10$short",
            "$2b$99$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X15i",
            "$2b$10$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X1!i",
        ] {
            let error = check_hash(hash).expect_err(hash);
            assert!(!error.contains(hash.trim_start_matches('$')), "{error}");
        }
    }
}
