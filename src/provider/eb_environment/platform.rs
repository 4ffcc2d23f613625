//! The platform: the newest solution stack that matches a prefix and a
//! platform, and the parts of a solution stack's name.

/// The newest solution stack whose name starts with `prefix` (a whole word of
/// it) and ends with `running <platform>`, newest by its `vX.Y.Z`.
pub fn pick_solution_stack(stacks: &[String], prefix: &str, platform: &str) -> Result<String, String> {
    let suffix = format!("running {platform}");
    let matches =
        |s: &&String| s.strip_prefix(prefix).is_some_and(|rest| rest.starts_with(' ')) && s.ends_with(&suffix);
    if let Some(best) = stacks.iter().filter(matches).max_by_key(|s| (version_of(s), s.as_str())) {
        return Ok(best.clone());
    }
    let mut near: Vec<&str> = stacks.iter().filter(|s| s.ends_with(&suffix)).map(String::as_str).collect();
    if near.is_empty() {
        near = stacks.iter().filter(|s| s.starts_with(prefix)).map(String::as_str).collect();
    }
    near.sort_unstable_by(|a, b| b.cmp(a));
    near.truncate(5);
    let candidates = if near.is_empty() { "none".to_string() } else { near.join(", ") };
    Err(format!("no solution stack starts with {prefix:?} and ends with {suffix:?}; candidates: {candidates}"))
}

/// A solution stack's name in the schema's terms: the words before its version
/// (`64bit Amazon Linux 2023`) and what it runs (`Docker`).
pub fn split_solution_stack(name: &str) -> (Option<String>, Option<String>) {
    let words: Vec<&str> = name.split_whitespace().collect();
    let version = words.iter().position(|w| is_version(w));
    let prefix = version.filter(|i| *i > 0).map(|i| words[..i].join(" "));
    let platform = name.rsplit_once(" running ").map(|(_, p)| p.to_string());
    (prefix, platform)
}

pub fn is_version(word: &str) -> bool {
    word.strip_prefix('v')
        .is_some_and(|v| !v.is_empty() && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
}

/// The `vX.Y.Z` of a solution stack's name, as numbers.
pub fn version_of(name: &str) -> Vec<u64> {
    name.split_whitespace()
        .find(|w| is_version(w))
        .map(|w| w[1..].split('.').filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}
