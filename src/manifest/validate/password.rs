//! The password rules: exactly one source, a valid environment variable name, a hash MAS can
//! verify with its scheme version, and plaintext only when explicitly allowed.

use std::ops::Range;

use super::Checker;
use crate::manifest::error::IssueKind;
use crate::manifest::raw::{self, Spanned};
use crate::manifest::secrets;
use crate::model::state::{DesiredPassword, PasswordSource};
use crate::model::Secret;

impl Checker<'_> {
    /// Checks a user's `password`; `None` when it is unusable (the problem is reported).
    pub(super) fn password(&mut self, password: Spanned<raw::Password>) -> Option<DesiredPassword> {
        let source = match password.value {
            raw::Password::Plaintext(text) => self.plaintext(text, &password.span)?,
            raw::Password::Source(source) => self.password_source(source, &password.span)?,
        };
        Some(DesiredPassword {
            source,
            origin: self.origin(&password.span),
        })
    }

    fn plaintext(&mut self, text: String, span: &Range<usize>) -> Option<PasswordSource> {
        let secret = Secret::new(text);
        if !self.options.allow_plaintext_passwords {
            let help = "use `{ env: NAME }`, `{ file: PATH }` or `{ hash: …, version: N }`, \
                        or pass --allow-plaintext-passwords";
            self.report(
                IssueKind::PlaintextPassword,
                span,
                "a plaintext password is written in the manifest".to_owned(),
                "plaintext password",
                Some(help),
            );
            return None;
        }
        if secret.expose().is_empty() {
            self.report(
                IssueKind::EmptyPassword,
                span,
                "the password is empty".to_owned(),
                "empty password",
                None,
            );
            return None;
        }
        Some(PasswordSource::Literal(secret))
    }

    fn password_source(
        &mut self,
        source: raw::PasswordSource,
        span: &Range<usize>,
    ) -> Option<PasswordSource> {
        let raw::PasswordSource {
            env,
            file,
            hash,
            version,
        } = source;
        let named =
            usize::from(env.is_some()) + usize::from(file.is_some()) + usize::from(hash.is_some());
        if named != 1 {
            let message = if named == 0 {
                "a password needs one of `env`, `file` or `hash`"
            } else {
                "a password takes only one of `env`, `file` or `hash`"
            };
            self.report(
                IssueKind::InvalidPassword,
                span,
                message.to_owned(),
                "this password",
                None,
            );
            return None;
        }
        if let (None, Some(version)) = (&hash, &version) {
            let message = "`version` belongs with `hash` only".to_owned();
            self.report(
                IssueKind::InvalidPassword,
                &version.span,
                message,
                "not used",
                Some("remove `version`"),
            );
            return None;
        }
        if let Some(env) = env {
            if let Err(reason) = secrets::check_env_name(&env.value) {
                self.report(
                    IssueKind::InvalidPassword,
                    &env.span,
                    format!("invalid environment variable name: {reason}"),
                    "this name",
                    None,
                );
                return None;
            }
            return Some(PasswordSource::Env(env.value));
        }
        if let Some(file) = file {
            if file.value.is_empty() {
                self.report(
                    IssueKind::InvalidPassword,
                    &file.span,
                    "the password file's path is empty".to_owned(),
                    "empty path",
                    None,
                );
                return None;
            }
            return Some(PasswordSource::File(self.base.join(&file.value)));
        }
        let hash = hash?;
        self.hash(hash, version, span)
    }

    fn hash(
        &mut self,
        hash: Spanned<String>,
        version: Option<Spanned<u16>>,
        span: &Range<usize>,
    ) -> Option<PasswordSource> {
        let hash_ok = match secrets::check_hash(&hash.value) {
            Ok(()) => true,
            Err(reason) => {
                self.report(
                    IssueKind::InvalidPassword,
                    &hash.span,
                    format!("invalid password hash: {reason}"),
                    "this hash",
                    None,
                );
                false
            }
        };
        let Some(version) = version else {
            let help = "`version` is the number of the scheme in MAS's `passwords.schemes` that made the hash (1 by default)";
            self.report(
                IssueKind::InvalidPassword,
                span,
                "a `hash` needs a `version`".to_owned(),
                "no `version` here",
                Some(help),
            );
            return None;
        };
        if version.value == 0 {
            let message = "password scheme versions start at 1".to_owned();
            self.report(
                IssueKind::InvalidPassword,
                &version.span,
                message,
                "this version",
                None,
            );
            return None;
        }
        hash_ok.then(|| PasswordSource::Hash {
            hash: Secret::new(hash.value),
            version: version.value,
        })
    }
}
