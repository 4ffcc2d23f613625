//! Values laid out for a plan: on one line ([`inline`], the model's), or a
//! list or table one member per line when the line would be too long.

use crate::model::Value;
pub use crate::model::text::inline;
use crate::model::text::key;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::map;

    #[test]
    fn a_secret_shows_as_secret_wherever_it_is() {
        let v = Value::List(vec![map([("name", Value::from("PW")), ("value", Value::secret("hunter2"))])]);
        assert_eq!(inline(&v), r#"[{ name = "PW", value = [secret] }]"#);
        assert_eq!(block(&v, "", 5), "[\n    {\n        name = \"PW\",\n        value = [secret],\n    },\n]");
    }
}
