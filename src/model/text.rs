//! One-line text of a value, TOML-like: `"text"`, `[a, b]`, `{ k = v }`,
//! unknowns as `(known after apply)` and secrets as `[secret]`. The model owns
//! it so that every layer above (a plan's cost, the renderers) words values
//! the same way.

use super::{Part, Value};

/// The value on one line, as a person reads it; unknown values show as
/// `(known after apply)`, secrets as `[secret]`.
pub fn inline(v: &Value) -> String {
    match v {
        Value::Secret(_) => "[secret]".to_string(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => quote(s),
        Value::List(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Map(m) if m.is_empty() => "{}".to_string(),
        Value::Map(m) => format!(
            "{{ {} }}",
            m.iter().map(|(k, v)| format!("{} = {}", key(k), inline(v))).collect::<Vec<_>>().join(", ")
        ),
        Value::Ref(r) => format!("${{{r}}}"),
        Value::Template(parts) => quote(
            &parts
                .iter()
                .map(|p| match p {
                    Part::Lit(l) => l.clone(),
                    Part::Ref(r) => format!("${{{r}}}"),
                })
                .collect::<String>(),
        ),
        Value::Unknown => "(known after apply)".to_string(),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A table key, quoted when it is not a bare key.
pub fn key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        quote(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::map;

    #[test]
    fn tables_quote_keys_that_are_not_bare() {
        let v = map([("infra:stack", Value::from("dev")), ("env", Value::from("dev"))]);
        assert_eq!(inline(&v), r#"{ env = "dev", "infra:stack" = "dev" }"#);
    }

    #[test]
    fn unknown_values_say_when_they_are_known() {
        assert_eq!(inline(&Value::List(vec![Value::Unknown])), "[(known after apply)]");
    }
}
