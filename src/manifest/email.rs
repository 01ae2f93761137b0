//! Email address syntax, checked the way MAS's admin API and `register-user` check it
//! (`lettre::Address`), without depending on lettre.
//!
//! The address splits at its **last** `@`. The local part is an RFC 5322 dot-atom or quoted
//! string (UTF-8 allowed as RFC 6532 does); the domain is a host name whose labels may hold
//! non-ASCII letters (IDNA), or an IP address, bare or as a `[…]` literal. The address is kept
//! verbatim: no case folding, no punycode.

use std::net::{IpAddr, Ipv6Addr};

/// Longest domain (in characters) and label accepted, as in DNS.
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

/// Longest address, in bytes (RFC 5321's path limit less its angle brackets). MAS indexes
/// addresses with B-trees, whose entries PostgreSQL caps: a much longer one would fail mid-apply.
const MAX_ADDRESS: usize = 254;
/// Longest part before `@`, in bytes (RFC 5321).
const MAX_LOCAL: usize = 64;

/// Returns why `address` is not a valid email address, or `Ok`.
pub(crate) fn check(address: &str) -> Result<(), String> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err("it has no `@`".to_owned());
    };
    check_local(local)?;
    check_domain(domain)?;
    if local.len() > MAX_LOCAL {
        return Err(format!(
            "the part before `@` is {} bytes long; it has at most {MAX_LOCAL}",
            local.len()
        ));
    }
    if address.len() > MAX_ADDRESS {
        return Err(format!(
            "it is {} bytes long; an address has at most {MAX_ADDRESS}",
            address.len()
        ));
    }
    Ok(())
}

fn check_local(local: &str) -> Result<(), String> {
    if local.is_empty() {
        return Err("the part before `@` is empty".to_owned());
    }
    if let Some(inner) = local
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        return check_quoted(inner);
    }
    for atom in local.split('.') {
        if atom.is_empty() {
            return Err("the part before `@` cannot start or end with `.` or hold `..`".to_owned());
        }
        if let Some(bad) = atom.chars().find(|&c| !is_atext(c)) {
            return Err(format!(
                "{} is not allowed before `@` unless that part is quoted",
                show(bad)
            ));
        }
    }
    Ok(())
}

/// RFC 5322 `atext`, plus non-ASCII characters (RFC 6532).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

fn check_quoted(inner: &str) -> Result<(), String> {
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if escaped == ' ' || escaped == '\t' || is_printable(escaped) => {}
                _ => {
                    return Err(
                        "a `\\` in the quoted part before `@` must escape a character".to_owned(),
                    )
                }
            },
            '"' => {
                return Err("a `\"` inside the quoted part before `@` must be escaped".to_owned())
            }
            ' ' | '\t' => {}
            c if is_printable(c) => {}
            c => return Err(format!("{} is not allowed before `@`", show(c))),
        }
    }
    Ok(())
}

fn is_printable(c: char) -> bool {
    c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control())
}

fn check_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("the domain after `@` is empty".to_owned());
    }
    if let Some(literal) = domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let literal = literal.strip_prefix("IPv6:").map_or_else(
            || literal.parse::<IpAddr>().is_ok(),
            |v6| v6.parse::<Ipv6Addr>().is_ok(),
        );
        return if literal {
            Ok(())
        } else {
            Err("the address literal after `@` is not an IP address".to_owned())
        };
    }
    if domain.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if domain.chars().count() > MAX_DOMAIN {
        return Err(format!("the domain is longer than {MAX_DOMAIN} characters"));
    }
    for label in domain.split('.') {
        check_label(label)?;
    }
    Ok(())
}

fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("the domain cannot start or end with `.` or hold `..`".to_owned());
    }
    if label.chars().count() > MAX_LABEL {
        return Err(format!(
            "a part of the domain is longer than {MAX_LABEL} characters"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a part of the domain cannot start or end with `-`".to_owned());
    }
    // Host names allow ASCII letters, digits and `-`. IDNA maps non-ASCII labels to punycode;
    // its exact tables are not worth embedding, so any visible non-ASCII character passes.
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || c == '-'
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
    };
    match label.chars().find(|&c| !allowed(c)) {
        Some(bad) => Err(format!("{} is not allowed in the domain", show(bad))),
        None => Ok(()),
    }
}

fn show(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_lettre_accepts() {
        for address in [
            "alice@example.org",
            "Alice.Liddell@Example.ORG",
            "a+tag@sub.example.co.uk",
            "o'brien@example.ie",
            "x!#$%&'*+-/=?^_`{|}~y@example.org",
            "\"john doe\"@example.org",
            "\"a\\\"b\"@example.org",
            "\"a@b\"@example.org",
            "user@localhost",
            "user@[192.168.0.1]",
            "user@[::1]",
            "user@[IPv6:2001:db8::1]",
            "user@127.0.0.1",
            "jörg@bücher.example",
            "用户@例子.广告",
            "user@xn--bcher-kva.example",
            "user@a-b.example",
        ] {
            assert_eq!(check(address), Ok(()), "{address}");
        }
    }

    #[test]
    fn refuses_what_lettre_refuses() {
        for (address, reason) in [
            ("alice", "it has no `@`"),
            ("@example.org", "the part before `@` is empty"),
            ("alice@", "the domain after `@` is empty"),
            (
                ".alice@example.org",
                "the part before `@` cannot start or end with `.` or hold `..`",
            ),
            (
                "alice.@example.org",
                "the part before `@` cannot start or end with `.` or hold `..`",
            ),
            (
                "al..ice@example.org",
                "the part before `@` cannot start or end with `.` or hold `..`",
            ),
            (
                "al ice@example.org",
                "a space is not allowed before `@` unless that part is quoted",
            ),
            (
                "a@b@example.org",
                "`@` is not allowed before `@` unless that part is quoted",
            ),
            (
                "a(b)@example.org",
                "`(` is not allowed before `@` unless that part is quoted",
            ),
            (
                "\"a\"b\"@example.org",
                "a `\"` inside the quoted part before `@` must be escaped",
            ),
            (
                "\"a\\\"@example.org",
                "a `\\` in the quoted part before `@` must escape a character",
            ),
            (
                "alice@example..org",
                "the domain cannot start or end with `.` or hold `..`",
            ),
            (
                "alice@example.org.",
                "the domain cannot start or end with `.` or hold `..`",
            ),
            (
                "alice@-example.org",
                "a part of the domain cannot start or end with `-`",
            ),
            ("alice@exa_mple.org", "`_` is not allowed in the domain"),
            ("alice@exa mple.org", "a space is not allowed in the domain"),
            (
                "alice@[300.1.1.1]",
                "the address literal after `@` is not an IP address",
            ),
            (
                "alice@[example.org]",
                "the address literal after `@` is not an IP address",
            ),
        ] {
            assert_eq!(check(address), Err(reason.to_owned()), "{address}");
        }
        let long_label = format!("a@{}.org", "x".repeat(64));
        assert_eq!(
            check(&long_label),
            Err("a part of the domain is longer than 63 characters".to_owned())
        );
        assert_eq!(
            check(&format!("{}@example.org", "x".repeat(65))),
            Err("the part before `@` is 65 bytes long; it has at most 64".to_owned())
        );
        let label = "x".repeat(63);
        let long = format!("{}@{label}.{label}.{label}.org", "y".repeat(60));
        assert_eq!(
            check(&long),
            Err("it is 256 bytes long; an address has at most 254".to_owned())
        );
        let long_domain = format!("a@{}org", "abcdefghi.".repeat(26));
        assert_eq!(
            check(&long_domain),
            Err("the domain is longer than 253 characters".to_owned())
        );
    }
}
