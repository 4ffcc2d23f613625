//! One-line rendering of a value, TOML-like: `"text"`, `[a, b]`, `{ k = v }`.

use crate::model::{Part, Value};

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

/// The value on one line when it fits in `width` columns, else a list or table
/// laid out one member per line, indented under `indent`.
pub fn block(v: &Value, indent: &str, width: usize) -> String {
    let line = inline(v);
    if line.len() <= width {
        return line;
    }
    let inner = format!("{indent}    ");
    match v {
        Value::List(items) => {
            let body: String = items.iter().map(|i| format!("{inner}{},\n", block(i, &inner, width))).collect();
            format!("[\n{body}{indent}]")
        }
        Value::Map(m) => {
            let body: String =
                m.iter().map(|(k, v)| format!("{inner}{} = {},\n", key(k), block(v, &inner, width))).collect();
            format!("{{\n{body}{indent}}}")
        }
        _ => line,
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A table key, quoted when it is not a bare key.
pub(super) fn key(k: &str) -> String {
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
    fn a_secret_shows_as_secret_wherever_it_is() {
        let v = Value::List(vec![map([("name", Value::from("PW")), ("value", Value::secret("hunter2"))])]);
        assert_eq!(inline(&v), r#"[{ name = "PW", value = [secret] }]"#);
        assert_eq!(block(&v, "", 5), "[\n    {\n        name = \"PW\",\n        value = [secret],\n    },\n]");
    }

    #[test]
    fn unknown_values_say_when_they_are_known() {
        assert_eq!(inline(&Value::List(vec![Value::Unknown])), "[(known after apply)]");
    }
}
