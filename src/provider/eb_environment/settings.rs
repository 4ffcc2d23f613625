//! Option settings: what a declaration sets, as AWS takes them and back.

use std::collections::BTreeMap;

use aws_sdk_elasticbeanstalk::types::ConfigurationOptionSetting;

use crate::model::kinds::eb_environment::{CONVENIENCE, setting_key};
use crate::model::{Props, Value};

pub fn setting_value(namespace: &str, name: &str, value: &str) -> Value {
    Value::Map(
        [("namespace", namespace), ("name", name), ("value", value)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect(),
    )
}

pub type Settings = BTreeMap<(String, String), String>;

/// Every option setting the properties declare, convenience ones included.
pub fn settings_of(props: &Props) -> Settings {
    let mut out = Settings::new();
    for (prop, ns, name, codec) in CONVENIENCE {
        if let Some(value) = props.get(*prop).and_then(|v| codec.encode(v)) {
            out.insert((ns.to_string(), name.to_string()), value);
        }
    }
    out.extend(declared_settings(props));
    out
}

/// The `option_settings` entries alone.
pub fn declared_settings(props: &Props) -> Vec<((String, String), String)> {
    let list = props.get("option_settings").and_then(Value::as_list).unwrap_or_default();
    list.iter()
        .filter_map(|s| {
            let (ns, name) = setting_key(s)?;
            let value = s.as_map()?.get("value")?.as_str()?;
            Some(((ns.to_string(), name.to_string()), value.to_string()))
        })
        .collect()
}

pub fn aws_settings(settings: &Settings) -> Vec<ConfigurationOptionSetting> {
    settings
        .iter()
        .map(|((ns, name), value)| {
            ConfigurationOptionSetting::builder().namespace(ns).option_name(name).value(value).build()
        })
        .collect()
}

/// The settings to set and those to remove to go from `before` to `after`. A
/// setting is removed only when `after` declares `option_settings` without it
/// (a property of its own left out is left as AWS has it, as the plan shows).
pub fn setting_changes(before: &Props, after: &Props) -> (Settings, Vec<(String, String)>) {
    let (had, want) = (settings_of(before), settings_of(after));
    let set = want.iter().filter(|(k, v)| had.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let remove = if after.contains_key("option_settings") {
        declared_settings(before).into_iter().map(|(k, _)| k).filter(|k| !want.contains_key(k)).collect()
    } else {
        Vec::new()
    };
    (set, remove)
}

/// Properties from what AWS reports: the convenience ones from their settings,
/// `option_settings` from the rest (settings without a value are left out).
pub fn props_from_settings(settings: &[ConfigurationOptionSetting], props: &mut Props) {
    let mut rest = Vec::new();
    for s in settings {
        let (Some(ns), Some(name), Some(value)) = (s.namespace(), s.option_name(), s.value()) else { continue };
        match CONVENIENCE.iter().find(|(_, n, o, _)| *n == ns && *o == name) {
            Some((prop, .., codec)) => {
                props.insert(prop.to_string(), codec.decode(value));
            }
            None => rest.push(setting_value(ns, name, value)),
        }
    }
    rest.sort();
    rest.dedup();
    props.insert("option_settings".into(), Value::List(rest));
}
