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
        if named == 0 {
            let message = "a password needs one of `env`, `file` or `hash`";
            return self.bad_password(span, message, "this password", None);
        }
        if named > 1 {
            let message = "a password takes only one of `env`, `file` or `hash`";
            return self.bad_password(span, message, "this password", None);
        }
        if let (None, Some(version)) = (&hash, &version) {
            let message = "`version` belongs with `hash` only";
            return self.bad_password(&version.span, message, "not used", Some("remove `version`"));
        }
        match (env, file, hash) {
            (Some(env), _, _) => self.env(env),
            (_, Some(file), _) => self.file(file),
            (_, _, Some(hash)) => self.hash(hash, version, span),
            (None, None, None) => None,
        }
    }

    /// Reports an unusable password and returns `None`.
    fn bad_password<T>(
        &mut self,
        span: &Range<usize>,
        message: &str,
        label: &str,
        help: Option<&str>,
    ) -> Option<T> {
        self.report(
            IssueKind::InvalidPassword,
            span,
            message.to_owned(),
            label,
            help,
        );
        None
    }

    fn env(&mut self, env: Spanned<String>) -> Option<PasswordSource> {
        match secrets::check_env_name(&env.value) {
            Ok(()) => Some(PasswordSource::Env(env.value)),
            Err(reason) => {
                let message = format!("invalid environment variable name: {reason}");
                self.bad_password(&env.span, &message, "this name", None)
            }
        }
    }

    fn file(&mut self, file: Spanned<String>) -> Option<PasswordSource> {
        if file.value.is_empty() {
            return self.bad_password(
                &file.span,
                "the password file's path is empty",
                "empty path",
                None,
            );
        }
        // Relative to the manifest file, so that a manifest means the same from any directory.
        Some(PasswordSource::File(self.base.join(&file.value)))
    }

    fn hash(
        &mut self,
        hash: Spanned<String>,
        version: Option<Spanned<u16>>,
        span: &Range<usize>,
    ) -> Option<PasswordSource> {
        // Check both the hash and its version before giving up, to report both at once.
        let hash = match secrets::check_hash(&hash.value) {
            Ok(()) => Some(Secret::new(hash.value)),
            Err(reason) => {
                let message = format!("invalid password hash: {reason}");
                self.bad_password(&hash.span, &message, "this hash", None)
            }
        };
        let Some(version) = version else {
            let help = "`version` is the number of the scheme in MAS's `passwords.schemes` \
                        that made the hash (1 by default)";
            return self.bad_password(
                span,
                "a `hash` needs a `version`",
                "no `version` here",
                Some(help),
            );
        };
        if version.value == 0 {
            let message = "password scheme versions start at 1";
            return self.bad_password(&version.span, message, "this version", None);
        }
        Some(PasswordSource::Hash {
            hash: hash?,
            version: version.value,
        })
    }
}
