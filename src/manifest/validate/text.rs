//! Rules for free-text values that end up in MAS's database or on the homeserver: display
//! names, upstream subjects and registration tokens.
//!
//! PostgreSQL cannot store a NUL character, control characters would act on the terminal of
//! whoever reads a plan, and over-long values fail only when written: a B-tree index entry is
//! capped at about 2,700 bytes, and Synapse refuses display names over 256 characters. All of
//! these are refused here, at their node, instead of halfway through an apply.

/// Longest display name Synapse accepts (`MAX_DISPLAYNAME_LEN`), in characters.
pub(super) const MAX_DISPLAY_NAME_CHARS: usize = 256;

/// Longest upstream subject or registration token, in bytes. Both are keys of unique B-tree
/// indexes; this stays well below PostgreSQL's entry limit whatever the encoding.
pub(super) const MAX_KEY_BYTES: usize = 1024;

/// Returns why `text` cannot be stored as a `what`, or `Ok`.
pub(super) fn check(
    text: &str,
    what: &str,
    max_bytes: usize,
    max_chars: usize,
) -> Result<(), String> {
    if let Some(bad) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "a {what} cannot hold control characters (found U+{:04X})",
            u32::from(bad)
        ));
    }
    if text.len() > max_bytes {
        return Err(format!(
            "a {what} is at most {max_bytes} bytes long, this one has {}",
            text.len()
        ));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!(
            "a {what} is at most {max_chars} characters long, this one has {chars}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_control_characters_and_long_values() {
        assert_eq!(check("Ada Lovelace 😀", "name", 100, 20), Ok(()));
        assert_eq!(
            check("a\0b", "name", 100, 20),
            Err("a name cannot hold control characters (found U+0000)".to_owned())
        );
        assert!(check("\u{1b}[2J", "name", 100, 20).is_err());
        assert_eq!(
            check("ééé", "key", 5, 20),
            Err("a key is at most 5 bytes long, this one has 6".to_owned())
        );
        assert_eq!(
            check("abc", "name", 100, 2),
            Err("a name is at most 2 characters long, this one has 3".to_owned())
        );
    }
}
