//! One-line text of a value, TOML-like: `"text"`, `[a, b]`, `{ k = v }`,
//! unknowns as `(known after apply)` and secrets as `[secret]`. The model owns
//! it so that every layer above (a plan's cost, the renderers) words values
//! the same way.

use super::{Part, Value};

/// The value on one line, as a person reads it; unknown values show as
/// `(known after apply)`, secrets as `[secret]`.
pub fn inline(v: &Value) -> String {
    let mut out = String::new();
    write_inline(&mut out, v);
    out
}

/// [`inline`], written onto `out`: one string for the whole value, however
/// deep (a plan of a thousand resources writes a great many).
fn write_inline(out: &mut String, v: &Value) {
    match v {
        Value::Secret(_) => out.push_str("[secret]"),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Str(s) => out.push_str(&quote(s)),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_inline(out, item);
            }
            out.push(']');
        }
        Value::Map(m) if m.is_empty() => out.push_str("{}"),
        Value::Map(m) => {
            out.push_str("{ ");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_key(out, k);
                out.push_str(" = ");
                write_inline(out, v);
            }
            out.push_str(" }");
        }
        Value::Ref(r) => out.push_str(&format!("${{{r}}}")),
        Value::Template(parts) => {
            let text: String = parts
                .iter()
                .map(|p| match p {
                    Part::Lit(l) => l.clone(),
                    Part::Ref(r) => format!("${{{r}}}"),
                })
                .collect();
            out.push_str(&quote(&text));
        }
        Value::Unknown => out.push_str("(known after apply)"),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A table key, quoted when it is not a bare key.
pub fn key(k: &str) -> String {
    let mut out = String::new();
    write_key(&mut out, k);
    out
}

fn write_key(out: &mut String, k: &str) {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        out.push_str(k);
    } else {
        out.push_str(&quote(k));
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
