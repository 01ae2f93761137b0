//! YAML 1.2 core-schema resolution of scalars, and how values are named in messages.
//!
//! Plain scalars resolve to null, booleans, integers or floats by the core schema's rules
//! (`yes`/`no`/`on`/`off` are strings, as in YAML 1.2 and serde_yaml 0.9); quoted and block
//! scalars are always strings. This module never puts a scalar's text into a message: the text
//! may be a password.

use super::tree::{CoreTag, NodeKind, Scalar};

/// A scalar's resolved value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Resolved<'a> {
    /// `~`, `null`, or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in 128 bits.
    Int(i128),
    /// An integer too large for 128 bits.
    HugeInt,
    /// A float.
    Float(f64),
    /// A string.
    Str(&'a str),
}

/// Resolves a scalar; an explicitly tagged scalar that does not match its tag is an error.
pub(crate) fn resolve<'t>(scalar: &Scalar<'t>) -> Result<Resolved<'t>, String> {
    let text = scalar.text;
    match scalar.tag {
        Some(CoreTag::Str) => Ok(Resolved::Str(text)),
        None if !scalar.plain => Ok(Resolved::Str(text)),
        None => Ok(resolve_plain(text)),
        Some(tag) => {
            let resolved = resolve_plain(text);
            let matches = matches!(
                (tag, resolved),
                (CoreTag::Null, Resolved::Null)
                    | (CoreTag::Bool, Resolved::Bool(_))
                    | (CoreTag::Int, Resolved::Int(_) | Resolved::HugeInt)
                    | (CoreTag::Float, Resolved::Float(_) | Resolved::Int(_))
            );
            if matches {
                Ok(resolved)
            } else {
                Err(format!(
                    "the value does not match its tag `!!{}`",
                    tag_name(tag)
                ))
            }
        }
    }
}

fn tag_name(tag: CoreTag) -> &'static str {
    match tag {
        CoreTag::Str => "str",
        CoreTag::Int => "int",
        CoreTag::Float => "float",
        CoreTag::Bool => "bool",
        CoreTag::Null => "null",
    }
}

fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = resolve_int(text) {
        return int;
    }
    if is_float(text) {
        if let Ok(float) = text.parse::<f64>() {
            return Resolved::Float(float);
        }
    }
    Resolved::Str(text)
}

fn resolve_int(text: &str) -> Option<Resolved<'static>> {
    let (radix, digits, negative) = if let Some(octal) = text.strip_prefix("0o") {
        (8, octal, false)
    } else if let Some(hex) = text.strip_prefix("0x") {
        (16, hex, false)
    } else if let Some(rest) = text.strip_prefix('-') {
        (10, rest, true)
    } else {
        (10, text.strip_prefix('+').unwrap_or(text), false)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(match i128::from_str_radix(digits, radix) {
        Ok(value) if negative => Resolved::Int(-value),
        Ok(value) => Resolved::Int(value),
        Err(_) => Resolved::HugeInt,
    })
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_float(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// Names a node's type for messages ("a string", "a mapping"), never its content.
pub(crate) fn describe(kind: NodeKind<'_>) -> &'static str {
    match kind {
        NodeKind::Map(_) => "a mapping",
        NodeKind::Seq(_) => "a sequence",
        NodeKind::Scalar(scalar) => match resolve(&scalar) {
            Ok(Resolved::Null) => "null",
            Ok(Resolved::Bool(_)) => "a boolean",
            Ok(Resolved::Int(_) | Resolved::HugeInt) => "an integer",
            Ok(Resolved::Float(_)) => "a float",
            Ok(Resolved::Str(_)) | Err(_) => "a string",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Scalar<'_> {
        Scalar {
            text,
            plain: true,
            tag: None,
        }
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        let cases = [
            ("", Resolved::Null),
            ("~", Resolved::Null),
            ("True", Resolved::Bool(true)),
            ("yes", Resolved::Str("yes")),
            ("42", Resolved::Int(42)),
            ("-7", Resolved::Int(-7)),
            ("+7", Resolved::Int(7)),
            ("0o17", Resolved::Int(15)),
            ("0x1f", Resolved::Int(31)),
            ("0123", Resolved::Int(123)),
            ("1.5", Resolved::Float(1.5)),
            ("1e3", Resolved::Float(1000.0)),
            (".5", Resolved::Float(0.5)),
            ("1.", Resolved::Float(1.0)),
            (
                "2027-01-01T00:00:00Z",
                Resolved::Str("2027-01-01T00:00:00Z"),
            ),
            ("1_000", Resolved::Str("1_000")),
            ("0x", Resolved::Str("0x")),
            ("e3", Resolved::Str("e3")),
            (
                "99999999999999999999999999999999999999999",
                Resolved::HugeInt,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(resolve(&plain(text)), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn quoted_and_tagged_scalars() {
        let quoted = Scalar {
            text: "42",
            plain: false,
            tag: None,
        };
        assert_eq!(resolve(&quoted), Ok(Resolved::Str("42")));
        let tagged = Scalar {
            text: "42",
            plain: false,
            tag: Some(CoreTag::Str),
        };
        assert_eq!(resolve(&tagged), Ok(Resolved::Str("42")));
        let int = Scalar {
            text: "x",
            plain: false,
            tag: Some(CoreTag::Int),
        };
        assert!(resolve(&int).is_err());
    }
}
