//! The merged configuration tree: YAML files and `MAS_*` environment variables turned into one
//! tree whose every node remembers where it came from, merged the way mas-cli (figment's
//! "admerge") merges them, and read back through [`Cursor`]s that know their key path.
//!
//! Remembering the source of every node is what lets an error say
//! `config.yaml: passwords.schemes[1].algorithm: …` even after several files were merged.
//! Nodes hold secrets (passwords, shared secrets) as plain strings, so nothing here implements
//! `Debug` and no error message ever includes a value that could be one.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use zeroize::Zeroizing;

use super::ConfigError;

/// A configuration value and the source that provided it.
#[derive(Clone)]
pub(crate) struct Node {
    value: Value,
    /// Where this node was written: a file path or `environment variable MAS_…`.
    source: Arc<str>,
}

#[derive(Clone)]
enum Value {
    Null,
    Bool(bool),
    Number(serde_yaml::Number),
    /// Text, wiped when the tree is dropped: MAS's config holds passwords, peppers and keys,
    /// in the sections masctl reads and in those it ignores.
    String(Zeroizing<String>),
    Seq(Vec<Node>),
    Map(IndexMap<String, Node>),
}

impl Value {
    /// Describes the kind of value for type errors, never the value itself (it may be secret).
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Seq(_) => "a list",
            Self::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// Returns an empty mapping, the tree of "no configuration at all".
    pub(crate) fn empty_map(source: &str) -> Self {
        Self {
            value: Value::Map(IndexMap::new()),
            source: source.into(),
        }
    }

    /// Converts a parsed YAML document; every node gets `source` (the file's name).
    pub(crate) fn from_yaml(value: serde_yaml::Value, source: &Arc<str>) -> Self {
        let value = match value {
            serde_yaml::Value::Null => Value::Null,
            serde_yaml::Value::Bool(b) => Value::Bool(b),
            serde_yaml::Value::Number(n) => Value::Number(n),
            serde_yaml::Value::String(s) => Value::String(Zeroizing::new(s)),
            serde_yaml::Value::Sequence(items) => Value::Seq(
                items
                    .into_iter()
                    .map(|item| Self::from_yaml(item, source))
                    .collect(),
            ),
            serde_yaml::Value::Mapping(map) => Value::Map(
                map.into_iter()
                    .map(|(key, value)| (key_text(key), Self::from_yaml(value, source)))
                    .collect(),
            ),
            // Tags (`!foo value`) mean nothing to MAS's config; keep the tagged value.
            serde_yaml::Value::Tagged(tagged) => return Self::from_yaml(tagged.value, source),
        };
        Self {
            value,
            source: Arc::clone(source),
        }
    }

    /// Builds the environment layer from `MAS_*` variables, mas-cli's lowest-priority source.
    ///
    /// The prefix is matched case-insensitively and stripped, the rest is lower-cased and every
    /// `_` starts a nested key (`MAS_DATABASE_URI` → `database.uri`), so keys that contain `_`
    /// themselves cannot be set this way, exactly as in mas-cli. Values stay text: the key that
    /// reads them decides their type (see [`Cursor::bool`]), which gives figment's sniffing
    /// results for every key masctl reads without ever turning a password like `007` into 7.
    pub(crate) fn from_env(vars: &BTreeMap<String, String>) -> Self {
        let mut root = Self::empty_map("environment");
        for (name, value) in vars {
            let Some(rest) = strip_prefix_ignore_case(name, "MAS_") else {
                continue;
            };
            let keys: Vec<String> = rest.split('_').map(str::to_lowercase).collect();
            if keys.iter().any(String::is_empty) {
                continue;
            }
            let source: Arc<str> = format!("environment variable {name}").into();
            let mut node = Self {
                value: Value::String(Zeroizing::new(value.clone())),
                source: Arc::clone(&source),
            };
            for key in keys.into_iter().rev() {
                let map = IndexMap::from([(key, node)]);
                node = Self {
                    value: Value::Map(map),
                    source: Arc::clone(&source),
                };
            }
            root = root.merge(node);
        }
        root
    }

    /// Merges `incoming` over `self` like figment's admerge: mappings merge key by key, lists
    /// are concatenated, and for anything else the incoming value wins.
    pub(crate) fn merge(self, incoming: Self) -> Self {
        let value = match (self.value, incoming.value) {
            (Value::Map(mut base), Value::Map(other)) => {
                for (key, node) in other {
                    let merged = match base.shift_remove(&key) {
                        Some(existing) => existing.merge(node),
                        None => node,
                    };
                    base.insert(key, merged);
                }
                Value::Map(base)
            }
            (Value::Seq(mut base), Value::Seq(other)) => {
                base.extend(other);
                Value::Seq(base)
            }
            (_, other) => other,
        };
        Self {
            value,
            source: incoming.source,
        }
    }

    /// Returns whether this node is a mapping (the only valid top level of a config file).
    pub(crate) fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }
}

/// A node of the merged tree together with its key path (`passwords.schemes[1]`).
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    node: &'a Node,
    path: &'a str,
}

/// A cursor that owns its path string, as produced by [`Cursor::get`] and [`Cursor::items`].
pub(crate) struct Field<'a> {
    node: &'a Node,
    path: String,
}

impl Field<'_> {
    /// Borrows the field as a cursor.
    pub(crate) fn cursor(&self) -> Cursor<'_> {
        Cursor {
            node: self.node,
            path: &self.path,
        }
    }
}

impl<'a> Cursor<'a> {
    /// Returns a cursor on the root of the tree.
    pub(crate) fn root(node: &'a Node) -> Self {
        Self { node, path: "" }
    }

    /// Returns the key path, e.g. `database.password_file`.
    pub(crate) fn path(&self) -> &str {
        self.path
    }

    /// Returns the source (file or environment variable) that wrote this node.
    pub(crate) fn source(&self) -> &str {
        &self.node.source
    }

    /// Returns an error about this node: `<source>: <path>: <message>`.
    pub(crate) fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.node.source.to_string(),
            key: self.path.to_owned(),
            message: message.into(),
        }
    }

    fn type_error(&self, expected: &str) -> ConfigError {
        self.error(format!(
            "expected {expected}, found {}",
            self.node.value.kind()
        ))
    }

    /// Returns whether the node is null (`key: ~` or `key:` with nothing after it).
    pub(crate) fn is_null(&self) -> bool {
        matches!(self.node.value, Value::Null)
    }

    /// Returns the child `key` of this mapping, or `None` when it is absent or null.
    ///
    /// # Errors
    /// Fails when this node is not a mapping.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Field<'a>>, ConfigError> {
        let Value::Map(map) = &self.node.value else {
            return Err(self.type_error("a mapping"));
        };
        let path = if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        };
        Ok(map
            .get(key)
            .filter(|node| !matches!(node.value, Value::Null))
            .map(|node| Field { node, path }))
    }

    /// Returns the elements of this list.
    pub(crate) fn items(&self) -> Result<Vec<Field<'a>>, ConfigError> {
        let Value::Seq(items) = &self.node.value else {
            return Err(self.type_error("a list"));
        };
        Ok(items
            .iter()
            .enumerate()
            .map(|(index, node)| Field {
                node,
                path: format!("{}[{index}]", self.path),
            })
            .collect())
    }

    /// Returns the value as text; numbers and booleans are accepted and written out, since an
    /// unquoted YAML scalar (`password: 12345`) is still meant as text.
    pub(crate) fn string(&self) -> Result<String, ConfigError> {
        match &self.node.value {
            Value::String(s) => Ok(s.as_str().to_owned()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.type_error("a string")),
        }
    }

    /// Returns the value as a boolean; the text `true`/`false` (from an environment variable)
    /// is accepted too.
    pub(crate) fn bool(&self) -> Result<bool, ConfigError> {
        match &self.node.value {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.as_str() == "true" => Ok(true),
            Value::String(s) if s.as_str() == "false" => Ok(false),
            _ => Err(self.type_error("`true` or `false`")),
        }
    }

    /// Returns the value as an unsigned integer of type `T`; digits given as text are accepted.
    pub(crate) fn unsigned<T: TryFrom<u64>>(&self) -> Result<T, ConfigError> {
        let number = match &self.node.value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        number.and_then(|n| T::try_from(n).ok()).ok_or_else(|| {
            let expected = format!("a whole number from 0 to {}", max_of::<T>());
            match &self.node.value {
                // The type is right but the value does not fit.
                Value::Number(_) => self.error(format!("expected {expected}")),
                _ => self.type_error(&expected),
            }
        })
    }
}

/// Returns the largest value of `T` that fits in `u64`, for range messages.
fn max_of<T: TryFrom<u64>>() -> u64 {
    // Binary search for the largest convertible value: cheap, and avoids a trait for MAX.
    let (mut low, mut high) = (0_u64, u64::MAX);
    while low < high {
        let mid = low + (high - low) / 2 + 1;
        if T::try_from(mid).is_ok() {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    low
}

/// Turns a YAML mapping key into text (`1: x` has the key `"1"`).
fn key_text(key: serde_yaml::Value) -> String {
    match key {
        serde_yaml::Value::String(s) => s,
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Null => "~".to_owned(),
        serde_yaml::Value::Tagged(tagged) => key_text(tagged.value),
        // Complex keys never name a config section; give them a name nothing will ask for.
        serde_yaml::Value::Sequence(_) | serde_yaml::Value::Mapping(_) => {
            "<complex key>".to_owned()
        }
    }
}

fn strip_prefix_ignore_case<'s>(name: &'s str, prefix: &str) -> Option<&'s str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str, source: &str) -> Node {
        Node::from_yaml(
            serde_yaml::from_str(text).expect("valid YAML"),
            &Arc::from(source),
        )
    }

    #[test]
    fn merges_maps_concatenates_lists_and_later_wins() {
        let merged = yaml("a: {x: 1, y: [1]}\nb: keep", "one.yaml")
            .merge(yaml("a: {x: 2, y: [2], z: 3}", "two.yaml"));
        let root = Cursor::root(&merged);
        let a = root.get("a").expect("map").expect("present");
        let a = a.cursor();
        let x = a.get("x").expect("map").expect("present");
        assert_eq!(x.cursor().unsigned::<u32>().expect("number"), 2);
        assert_eq!(x.cursor().source(), "two.yaml");
        let y = a.get("y").expect("map").expect("present");
        let items: Vec<u32> = y
            .cursor()
            .items()
            .expect("list")
            .iter()
            .map(|f| f.cursor().unsigned().expect("n"))
            .collect();
        assert_eq!(items, [1, 2]);
        let b = root.get("b").expect("map").expect("present");
        assert_eq!(b.cursor().string().expect("text"), "keep");
        assert_eq!(b.cursor().source(), "one.yaml");
    }

    #[test]
    fn environment_keys_nest_on_underscores() {
        let vars = BTreeMap::from([
            ("MAS_DATABASE_URI".to_owned(), "postgresql://x".to_owned()),
            ("mas_matrix_SECRET".to_owned(), "007".to_owned()),
            ("MAS__BROKEN".to_owned(), "ignored".to_owned()),
            ("OTHER_DATABASE_URI".to_owned(), "ignored".to_owned()),
        ]);
        let env = Node::from_env(&vars);
        let root = Cursor::root(&env);
        let database = root.get("database").expect("map").expect("present");
        let uri = database.cursor().get("uri").expect("map").expect("present");
        assert_eq!(uri.cursor().path(), "database.uri");
        assert_eq!(
            uri.cursor().source(),
            "environment variable MAS_DATABASE_URI"
        );
        let matrix = root.get("matrix").expect("map").expect("present");
        let secret = matrix
            .cursor()
            .get("secret")
            .expect("map")
            .expect("present");
        assert_eq!(secret.cursor().string().expect("text"), "007");
        assert!(root.get("").expect("map").is_none());
    }

    #[test]
    fn scalars_convert_by_the_reading_key() {
        let node = yaml(
            "t: 'true'\nn: '5432'\nbig: 70000\ns: [1]\nnum: 12345",
            "f.yaml",
        );
        let root = Cursor::root(&node);
        let field = |key: &str| root.get(key).expect("map").expect("present");
        assert!(field("t").cursor().bool().expect("bool"));
        assert_eq!(field("n").cursor().unsigned::<u16>().expect("port"), 5432);
        assert_eq!(field("num").cursor().string().expect("text"), "12345");
        let error = field("big")
            .cursor()
            .unsigned::<u16>()
            .expect_err("too big");
        assert_eq!(
            error.to_string(),
            "f.yaml: big: expected a whole number from 0 to 65535"
        );
        let error = field("s").cursor().string().expect_err("not text");
        assert_eq!(
            error.to_string(),
            "f.yaml: s: expected a string, found a list"
        );
    }
}
