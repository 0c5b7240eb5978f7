//! The lists of valid names in error messages, and "did you mean" hints for unknown ones.

use super::*;

pub(super) fn rule_names() -> String {
    join(RULES.iter().map(|r| r.name))
}

pub(super) fn setting_names() -> String {
    join(SETTINGS.iter().map(|s| s.name))
}

pub(super) fn valid_names() -> String {
    format!(
        "valid rules: {}; valid settings: {}",
        rule_names(),
        setting_names()
    )
}

pub(super) fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest name within two edits, for "did you mean" hints.
pub(super) fn suggest<'a>(unknown: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|n| (edit_distance(unknown, n), n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

pub(super) fn did_you_mean<'a>(unknown: &str, names: impl Iterator<Item = &'a str>) -> String {
    suggest(unknown, names)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}
