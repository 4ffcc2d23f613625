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
    /// A value from the stack's `[secrets]`: compared and given to providers
    /// as its content, shown as `[secret]`, written to state only encrypted.
    Secret(Secret),
}

/// The content of a secret value. Its `Debug` shows `[secret]`, so a secret
/// never reaches a log or a panic message by formatting; [`Secret::expose`] is
/// the way to the content.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(Box<Value>);

impl Secret {
    pub fn expose(&self) -> &Value {
        &self.0
    }
    pub fn expose_mut(&mut self) -> &mut Value {
        &mut self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[secret]")
    }
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

impl Part {
    /// Appends `part` to `parts`, joining adjacent literal text.
    pub fn push(parts: &mut Vec<Part>, part: Part) {
        match (parts.last_mut(), part) {
            (Some(Part::Lit(prev)), Part::Lit(lit)) => prev.push_str(&lit),
            (_, Part::Lit(lit)) if lit.is_empty() => {}
            (_, part) => parts.push(part),
        }
    }

    /// `parts` as a stack file writes them: `${resource.attr}` for a
    /// reference, literal text with `${` escaped as `$${`.
    pub fn text(parts: &[Part]) -> String {
        parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.replace("${", "$${"),
                Part::Ref(r) => format!("${{{}.{}}}", r.resource, r.attr),
            })
            .collect()
    }

    /// The value `parts` make: text alone is a string, a reference alone that
    /// reference, anything else a template.
    pub fn join(parts: Vec<Part>) -> Value {
        match parts.as_slice() {
            [] => Value::Str(String::new()),
            [Part::Lit(s)] => Value::Str(s.clone()),
            [Part::Ref(r)] => Value::Ref(r.clone()),
            _ => Value::Template(parts),
        }
    }
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
    /// A secret holding `v` (its own secrets unwrapped: a secret is never nested).
    pub fn secret(v: impl Into<Value>) -> Value {
        Value::Secret(Secret(Box::new(v.into().reveal())))
    }

    /// The value with every secret replaced by its content: what providers are
    /// given for an AWS call, and nothing else.
    pub fn reveal(&self) -> Value {
        match self {
            Value::Secret(s) => s.expose().reveal(),
            Value::List(l) => Value::List(l.iter().map(Value::reveal).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.reveal())).collect()),
            other => other.clone(),
        }
    }

    /// Whether any part of the value is a secret.
    pub fn contains_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(l) => l.iter().any(Value::contains_secret),
            Value::Map(m) => m.values().any(Value::contains_secret),
            _ => false,
        }
    }

    /// Replaces the content of every secret with what `f` makes of it (sealing
    /// and unsealing for files).
    pub fn try_map_secrets<E>(&mut self, f: &mut dyn FnMut(&Value) -> Result<Value, E>) -> Result<(), E> {
        match self {
            Value::Secret(s) => *s.expose_mut() = f(s.expose())?,
            Value::List(l) => l.iter_mut().try_for_each(|v| v.try_map_secrets(f))?,
            Value::Map(m) => m.values_mut().try_for_each(|v| v.try_map_secrets(f))?,
            _ => {}
        }
        Ok(())
    }

    /// Marks as secret what AWS reports at the places where `recorded` holds a
    /// secret, so that a value read back in plain text (an option setting's
    /// value) is compared, shown and stored like the secret it is. List members
    /// are matched by their parts that are not secret (an option setting by
    /// its namespace and name); when in doubt, a value is marked.
    pub fn mark_secrets_like(&mut self, recorded: &Value) {
        if !recorded.contains_secret() || matches!(self, Value::Secret(_)) {
            return;
        }
        match (recorded, &mut *self) {
            (Value::Secret(_), _) => *self = Value::secret(std::mem::replace(self, Value::Null)),
            (Value::Map(r), Value::Map(live)) => {
                for (k, v) in live.iter_mut() {
                    if let Some(rv) = r.get(k) {
                        v.mark_secrets_like(rv);
                    }
                }
            }
            (Value::List(r), Value::List(live)) => {
                let bare_secret = r.iter().any(|rv| matches!(rv, Value::Secret(_)));
                for v in live.iter_mut() {
                    if r.contains(v) {
                        continue;
                    }
                    match r.iter().find(|rv| rv.contains_secret() && rv.same_outside_secrets(v)) {
                        Some(rv) => v.mark_secrets_like(rv),
                        None if bare_secret => *v = Value::secret(std::mem::replace(v, Value::Null)),
                        None => {}
                    }
                }
            }
            // Shapes differ: hide the whole value rather than guess.
            _ => *self = Value::secret(std::mem::replace(self, Value::Null)),
        }
    }

    /// Whether `other` equals this value in every part that is not a secret (or
    /// not yet known); `other` may have more table keys.
    fn same_outside_secrets(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Secret(_), _) => true,
            (v, _) if !v.is_known() => true,
            (Value::Map(r), Value::Map(o)) => {
                r.iter().all(|(k, rv)| o.get(k).is_some_and(|ov| rv.same_outside_secrets(ov)))
            }
            (Value::List(r), Value::List(o)) => {
                r.len() == o.len() && r.iter().zip(o).all(|(rv, ov)| rv.same_outside_secrets(ov))
            }
            (r, o) => r == o,
        }
    }

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
            let end = after.find('}').ok_or_else(|| format!("unclosed reference in {s:?}: expected `}}`"))?;
            let inner = after[..end].trim();
            let (resource, attr) = inner
                .split_once('.')
                .ok_or_else(|| format!("reference `${{{inner}}}` must have the form `${{resource.attribute}}`"))?;
            let valid = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid(resource) || !valid(attr) {
                return Err(format!("reference `${{{inner}}}` must have the form `${{resource.attribute}}`"));
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
            Value::Secret(s) => s.expose().is_known(),
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
            Value::Secret(s) => s.expose().collect_refs(out),
            _ => {}
        }
    }

    /// Replaces the references `lookup` knows with the text it gives, and keeps
    /// the others: a template stays a template until no reference is left.
    pub fn bind(&self, lookup: &dyn Fn(&Ref) -> Option<String>) -> Value {
        match self {
            Value::Ref(r) => lookup(r).map_or_else(|| self.clone(), Value::Str),
            Value::Template(parts) => {
                let mut out = Vec::new();
                for p in parts {
                    let p = match p {
                        Part::Ref(r) => lookup(r).map_or_else(|| p.clone(), Part::Lit),
                        lit => lit.clone(),
                    };
                    Part::push(&mut out, p);
                }
                Part::join(out)
            }
            Value::List(l) => Value::List(l.iter().map(|v| v.bind(lookup)).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.bind(lookup))).collect()),
            Value::Secret(s) => Value::secret(s.expose().bind(lookup)),
            other => other.clone(),
        }
    }

    /// Replaces every reference with what `lookup` gives for it. A template with
    /// an unknown part becomes `Unknown` as a whole; one with a secret part
    /// becomes a secret as a whole.
    pub fn resolve(&self, lookup: &dyn Fn(&Ref) -> Value) -> Value {
        self.resolve_with(lookup, false)
    }

    /// [`Value::resolve`], but a reference still unknown inside a string is
    /// marked in place, `(known after apply: bucket.arn)`, instead of making
    /// the whole string unknown: what a plan shows of a value it cannot know
    /// yet. A string holding a secret stays unknown whole.
    pub fn resolve_marked(&self, lookup: &dyn Fn(&Ref) -> Value) -> Value {
        self.resolve_with(lookup, true)
    }

    fn resolve_with(&self, lookup: &dyn Fn(&Ref) -> Value, mark: bool) -> Value {
        match self {
            Value::Ref(r) => lookup(r),
            Value::Template(parts) => {
                let mut s = String::new();
                let mut secret = false;
                let mut marked = false;
                for p in parts {
                    let (r, found) = match p {
                        Part::Lit(l) => {
                            s.push_str(l);
                            continue;
                        }
                        Part::Ref(r) => (r, lookup(r)),
                    };
                    let found = match found {
                        Value::Secret(inner) => {
                            secret = true;
                            inner.expose().clone()
                        }
                        other => other,
                    };
                    match found {
                        Value::Str(v) => s.push_str(&v),
                        Value::Int(i) => s.push_str(&i.to_string()),
                        Value::Bool(b) => s.push_str(&b.to_string()),
                        _ if secret => return Value::secret(Value::Unknown),
                        _ if mark => {
                            marked = true;
                            s.push_str(&format!("(known after apply: {r})"));
                        }
                        _ => return Value::Unknown,
                    }
                }
                match (secret, marked) {
                    (true, true) => Value::secret(Value::Unknown),
                    (true, false) => Value::secret(s),
                    (false, _) => Value::Str(s),
                }
            }
            Value::Secret(s) => Value::secret(s.expose().resolve_with(lookup, mark)),
            Value::List(l) => Value::List(l.iter().map(|v| v.resolve_with(lookup, mark)).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.resolve_with(lookup, mark))).collect()),
            other => other.clone(),
        }
    }

    /// The JSON form of a concrete value (state files, `--json`). `Unknown` and
    /// unresolved expressions have no JSON form and become `null`; callers that
    /// need to tell them apart check `is_known` first. A secret is the string
    /// `"[secret]"`: its content is written only by the state file's sealing.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Secret(_) => J::String("[secret]".into()),
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
            Value::Template(vec![Part::Lit("arn:".into()), Part::Ref(Ref::new("b", "name")), Part::Lit("/*".into())])
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

    fn setting(name: &str, value: Value) -> Value {
        map([("namespace", Value::from("ns")), ("name", Value::from(name)), ("value", value)])
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let v = Value::List(vec![setting("PW", Value::secret("hunter2"))]);
        assert!(!format!("{v:?}").contains("hunter2"));
        assert!(format!("{v:?}").contains("[secret]"));
        assert_eq!(v.to_json()[0]["value"], serde_json::json!("[secret]"));
    }

    #[test]
    fn a_template_with_a_secret_part_is_a_secret_and_reveal_gives_the_plain_value() {
        let v = Value::parse_str("u:${a.pw}@host").unwrap();
        let resolved = v.resolve(&|_| Value::secret("hunter2"));
        assert_eq!(resolved, Value::secret("u:hunter2@host"));
        assert_eq!(resolved.reveal(), Value::from("u:hunter2@host"));
        assert!(Value::secret(Value::parse_str("${a.b}").unwrap()).refs().len() == 1);
        assert!(!Value::secret(Value::Unknown).is_known());
    }

    #[test]
    fn observed_values_are_marked_secret_where_the_recorded_ones_are() {
        let recorded = Value::List(vec![setting("A", Value::from("1")), setting("PW", Value::secret("old"))]);
        // AWS reports the password in plain text, changed behind infra's back.
        let mut live = Value::List(vec![setting("A", Value::from("1")), setting("PW", Value::from("new"))]);
        live.mark_secrets_like(&recorded);
        assert_eq!(live, Value::List(vec![setting("A", Value::from("1")), setting("PW", Value::secret("new"))]));
        // Unchanged, it compares equal to what was recorded.
        let mut same = Value::List(vec![setting("A", Value::from("1")), setting("PW", Value::from("old"))]);
        same.mark_secrets_like(&recorded);
        assert_eq!(same, recorded);
        // A whole secret property; a shape that does not match is hidden whole.
        let mut scalar = Value::from("x");
        scalar.mark_secrets_like(&Value::secret("y"));
        assert_eq!(scalar, Value::secret("x"));
        let mut odd = Value::from("x");
        odd.mark_secrets_like(&Value::List(vec![Value::secret("y")]));
        assert_eq!(odd, Value::secret("x"));
        // Nothing secret recorded: nothing marked.
        let mut plain = Value::List(vec![setting("PW", Value::from("new"))]);
        plain.mark_secrets_like(&Value::List(vec![setting("PW", Value::from("old"))]));
        assert!(!plain.contains_secret());
    }
}
