//! What every provider shares: properties put from optional AWS fields, the
//! tag changes between two declarations, and deletes of what is already gone.

use std::collections::BTreeMap;

use super::ProviderError;
use crate::model::{Props, Value};

fn tag_map(props: &Props) -> Option<BTreeMap<String, String>> {
    let m = props.get("tags")?.as_map()?;
    Some(m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
}

/// Tags to set (new or changed values) and tag keys to remove.
pub type TagChanges = (Vec<(String, String)>, Vec<String>);

/// The tag changes from `before` to `after`; `None` when `after` declares no
/// tags (they are then left alone).
pub fn tag_changes(before: &Props, after: &Props) -> Option<TagChanges> {
    let after = tag_map(after)?;
    let before = tag_map(before).unwrap_or_default();
    let set = after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let removed = before.keys().filter(|k| !after.contains_key(*k)).cloned().collect();
    Some((set, removed))
}

/// Treats an error whose code is one of `gone` as success: deleting what is
/// already gone.
pub fn ok_if_gone(result: Result<(), ProviderError>, gone: &[&str]) -> Result<(), ProviderError> {
    match result {
        Err(e) if e.code().is_some_and(|c| gone.contains(&c)) => Ok(()),
        other => other,
    }
}

/// Inserts `value` under `key` when there is one.
pub fn put(props: &mut Props, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        props.insert(key.to_string(), v.into());
    }
}
