//! The manifest edit that makes an emergency change permanent.
//!
//! `masctl apply` enforces the manifest, so a user locked with `manage lock-user` is unlocked
//! again by the next apply unless the manifest says `state: locked`. After such a write the
//! verbs print, on stderr, the YAML fragment to put in the manifest. This file only formats;
//! each verb decides what its change means in manifest terms.

use serde_yaml::{Mapping, Value};

use crate::cli::output;

/// A fragment of a manifest: the keys to set, nested as in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ManifestEdit {
    root: Mapping,
    /// Printed after the fragment: when the edit matters.
    caveat: Option<String>,
}

impl ManifestEdit {
    /// Returns the edit setting `users.<username>.<key>` to each of `fields`.
    pub(crate) fn user(username: &str, fields: Vec<(&str, Value)>) -> Self {
        let mut user = Mapping::new();
        for (key, value) in fields {
            user.insert(Value::from(key), value);
        }
        let mut users = Mapping::new();
        users.insert(Value::from(username), Value::Mapping(user));
        let mut root = Mapping::new();
        root.insert(Value::from("users"), Value::Mapping(users));
        Self { root, caveat: None }
    }

    /// Returns the edit adding one entry to `registration_tokens`.
    pub(crate) fn token(fields: Vec<(&str, Value)>) -> Self {
        let mut token = Mapping::new();
        for (key, value) in fields {
            token.insert(Value::from(key), value);
        }
        let mut root = Mapping::new();
        root.insert(
            Value::from("registration_tokens"),
            Value::Sequence(vec![Value::Mapping(token)]),
        );
        Self { root, caveat: None }
    }

    /// Adds the sentence saying when the edit matters.
    pub(crate) fn when(mut self, caveat: &str) -> Self {
        self.caveat = Some(caveat.to_owned());
        self
    }

    /// Returns the text printed for the edit.
    pub(crate) fn render(&self) -> String {
        // A mapping of strings, booleans, numbers and lists always serialises.
        let yaml = serde_yaml::to_string(&Value::Mapping(self.root.clone())).unwrap_or_default();
        let mut out =
            String::from("To keep this after the next `masctl apply`, change the manifest:\n");
        for line in yaml.lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        if let Some(caveat) = &self.caveat {
            out.push_str(caveat);
            out.push('\n');
        }
        out
    }

    /// Prints the edit to stderr.
    pub(crate) fn print(&self) {
        output::stderr_line(self.render().trim_end());
    }
}

/// Returns a YAML list of strings.
pub(crate) fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Sequence(values.into_iter().map(Value::from).collect())
}
