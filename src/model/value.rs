//! Property values: the one value type shared by stack files, programs, the planner,
//! providers and state.
//!
//! A desired value may hold expressions (`Ref`, `Template`) that name another
//! resource's attribute; the planner resolves them, to a concrete value or to
//! `Unknown` ("known after apply"). State and observations hold concrete values only.

use std::collections::BTreeMap;
use std::fmt;

/// Properties of one resource, by name, in a stable order.
pub type Props = BTreeMap<String, Value>;

/// A property value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// A whole value taken from another resource: `"${web_sg.id}"`.
    Ref(Ref),
    /// A string with references inside: `"arn:aws:s3:::${bucket.name}/*"`.
    Template(Vec<Part>),
    /// Known only after apply.
    Unknown,
}

/// A reference to an attribute of another resource in the same stack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Ref {
    pub resource: String,
    pub attr: String,
}

/// A piece of a `Template`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Lit(String),
    Ref(Ref),
}

impl Ref {
    pub fn new(resource: impl Into<String>, attr: impl Into<String>) -> Self {
        Ref { resource: resource.into(), attr: attr.into() }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.resource, self.attr)
    }
}

impl Value {
    /// `${resource.attr}`: the whole value of another resource's attribute.
    pub fn reference(resource: impl Into<String>, attr: impl Into<String>) -> Value {
        Value::Ref(Ref::new(resource, attr))
    }

    /// Parses `${a.b}` references out of a string. A string that is exactly one
    /// reference becomes `Ref`; one with references inside becomes `Template`;
    /// anything else stays a plain string. `$${` escapes a literal `${`.
    pub fn parse_str(s: &str) -> Result<Value, String> {
        if !s.contains("${") {
            return Ok(Value::Str(s.to_string()));
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(pos) = rest.find("${") {
            if rest[..pos].ends_with('$') {
                lit.push_str(&rest[..pos - 1]);
                lit.push_str("${");
                rest = &rest[pos + 2..];
                continue;
            }
            lit.push_str(&rest[..pos]);
            let after = &rest[pos + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed reference in {s:?}: expected `}}`"))?;
            let inner = after[..end].trim();
            let (resource, attr) = inner.split_once('.').ok_or_else(|| {
                format!("reference `${{{inner}}}` must have the form `${{resource.attribute}}`")
            })?;
            let valid = |p: &str| {
                !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            };
            if !valid(resource) || !valid(attr) {
                return Err(format!(
                    "reference `${{{inner}}}` must have the form `${{resource.attribute}}`"
                ));
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Ref(Ref::new(resource, attr)));
            rest = &after[end + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(match parts.as_slice() {
            [Part::Ref(r)] => Value::Ref(r.clone()),
            [Part::Lit(l)] => Value::Str(l.clone()),
            _ => Value::Template(parts),
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// True when no part of the value is `Unknown` or an unresolved expression.
    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown | Value::Ref(_) | Value::Template(_) => false,
            Value::List(l) => l.iter().all(Value::is_known),
            Value::Map(m) => m.values().all(Value::is_known),
            _ => true,
        }
    }

    /// Every reference this value makes, in order of appearance.
    pub fn refs(&self) -> Vec<&Ref> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs<'a>(&'a self, out: &mut Vec<&'a Ref>) {
        match self {
            Value::Ref(r) => out.push(r),
            Value::Template(parts) => out.extend(parts.iter().filter_map(|p| match p {
                Part::Ref(r) => Some(r),
                Part::Lit(_) => None,
            })),
            Value::List(l) => l.iter().for_each(|v| v.collect_refs(out)),
            Value::Map(m) => m.values().for_each(|v| v.collect_refs(out)),
            _ => {}
        }
    }

    /// Replaces every reference with what `lookup` gives for it. A template with
    /// an unknown part becomes `Unknown` as a whole.
    pub fn resolve(&self, lookup: &dyn Fn(&Ref) -> Value) -> Value {
        match self {
            Value::Ref(r) => lookup(r),
            Value::Template(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        Part::Lit(l) => s.push_str(l),
                        Part::Ref(r) => match lookup(r) {
                            Value::Str(v) => s.push_str(&v),
                            Value::Int(i) => s.push_str(&i.to_string()),
                            Value::Bool(b) => s.push_str(&b.to_string()),
                            _ => return Value::Unknown,
                        },
                    }
                }
                Value::Str(s)
            }
            Value::List(l) => Value::List(l.iter().map(|v| v.resolve(lookup)).collect()),
            Value::Map(m) => {
                Value::Map(m.iter().map(|(k, v)| (k.clone(), v.resolve(lookup))).collect())
            }
            other => other.clone(),
        }
    }

    /// The JSON form of a concrete value (state files, `--json`). `Unknown` and
    /// unresolved expressions have no JSON form and become `null`; callers that
    /// need to tell them apart check `is_known` first.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null | Value::Unknown | Value::Ref(_) | Value::Template(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Str(s) => J::String(s.clone()),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// The value of a JSON document. Floats are kept as strings: no property
    /// of ours is fractional, and a string compares exactly.
    pub fn from_json(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => n.as_i64().map(Value::Int).unwrap_or_else(|| Value::Str(n.to_string())),
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(l: Vec<T>) -> Self {
        Value::List(l.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Value>> From<BTreeMap<String, T>> for Value {
    fn from(m: BTreeMap<String, T>) -> Self {
        Value::Map(m.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

/// Builds a `Value::Map` from pairs: `map([("protocol", "tcp".into())])`.
pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_that_is_one_reference_becomes_a_ref() {
        assert_eq!(Value::parse_str("${sg.id}").unwrap(), Value::reference("sg", "id"));
    }

    #[test]
    fn a_string_with_references_inside_becomes_a_template() {
        let v = Value::parse_str("arn:${b.name}/*").unwrap();
        assert_eq!(
            v,
            Value::Template(vec![
                Part::Lit("arn:".into()),
                Part::Ref(Ref::new("b", "name")),
                Part::Lit("/*".into())
            ])
        );
    }

    #[test]
    fn a_doubled_dollar_escapes_a_reference() {
        assert_eq!(Value::parse_str("$${HOME}").unwrap(), Value::Str("${HOME}".into()));
    }

    #[test]
    fn a_malformed_reference_is_an_error() {
        assert!(Value::parse_str("${nodot}").is_err());
        assert!(Value::parse_str("${a.b").is_err());
    }

    #[test]
    fn a_template_with_an_unknown_part_resolves_to_unknown() {
        let v = Value::parse_str("x-${a.b}").unwrap();
        assert_eq!(v.resolve(&|_| Value::Unknown), Value::Unknown);
        assert_eq!(v.resolve(&|_| Value::from("1")), Value::from("x-1"));
    }
}
