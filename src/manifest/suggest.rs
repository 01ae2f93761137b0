//! Wording helpers for problems: name lists, "did you mean" suggestions, shortened keys.

/// Keeps messages readable when a key is a whole paragraph.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

/// Formats names as "`a`, `b` or `c`".
pub(crate) fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => "nothing".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Returns the candidate closest to `name`, if it is close enough to be a typo.
pub(crate) fn closest(name: &str, candidates: &'static [&'static str]) -> Option<&'static str> {
    // A key far longer than any field name is no typo, and would cost a large table.
    if name.len() > 64 {
        return None;
    }
    let lower = name.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, c), *c))
        .filter(|&(distance, c)| distance <= (c.len() / 3).max(1))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters (the commonest typo) each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table: Vec<usize> = (0..(a.len() + 1) * width)
        .map(|k| {
            if k < width {
                k
            } else if k % width == 0 {
                k / width
            } else {
                0
            }
        })
        .collect();
    // Indices stay below (a.len() + 1) * width by construction of the loops below.
    let at = |i: usize, j: usize| i * width + j;
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let same = a.get(i - 1) == b.get(j - 1);
            let mut best = (table[at(i - 1, j)] + 1)
                .min(table[at(i, j - 1)] + 1)
                .min(table[at(i - 1, j - 1)] + usize::from(!same));
            if i > 1 && j > 1 && a.get(i - 1) == b.get(j - 2) && a.get(i - 2) == b.get(j - 1) {
                best = best.min(table[at(i - 2, j - 2)] + 1);
            }
            table[at(i, j)] = best;
        }
    }
    table.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        const FIELDS: &[&str] = &["emails", "password", "state", "upstream"];
        assert_eq!(closest("emial", FIELDS), Some("emails"));
        assert_eq!(closest("Passwrd", FIELDS), Some("password"));
        assert_eq!(closest("stat", FIELDS), Some("state"));
        assert_eq!(closest("colour", FIELDS), None);
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(list(&["a"]), "`a`");
        assert_eq!(shorten(&"x".repeat(50)).chars().count(), 41);
    }
}
