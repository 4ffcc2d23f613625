//! The typed values of a stack program: what a property takes ([`Input`]),
//! what a resource gives ([`Output`], through its [`Handle`]), strings made of
//! both ([`template!`](crate::template)), and the value types a schema names
//! (ports, JSON documents).
//!
//! Every one of them is a [`Value`] underneath, tagged with the Rust type it
//! stands for, so that the compiler refuses an output of one type where
//! another is expected.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

use crate::model::{Kind, Part, Props, Ref, Value};

/// A value a property takes: a literal, or an [`Output`] of the same type.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Input<T> {
    value: Value,
    ty: PhantomData<fn() -> T>,
}

/// A value known once a resource exists (or a secret): pass it where an
/// [`Input`] of the same type is expected.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Output<T> {
    value: Value,
    ty: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Input<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Input({:?})", self.value)
    }
}

impl<T> fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Output({:?})", self.value)
    }
}

impl<T> Input<T> {
    fn of(value: Value) -> Self {
        Input { value, ty: PhantomData }
    }

    /// The value underneath.
    pub fn into_value(self) -> Value {
        self.value
    }
}

impl<T> Output<T> {
    pub(crate) fn of(value: Value) -> Self {
        Output { value, ty: PhantomData }
    }

    /// The value underneath: a reference, a template or a secret.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

impl<T> From<Output<T>> for Input<T> {
    fn from(o: Output<T>) -> Self {
        Input::of(o.value)
    }
}

impl<T> From<&Output<T>> for Input<T> {
    fn from(o: &Output<T>) -> Self {
        Input::of(o.value.clone())
    }
}

impl From<&str> for Input<String> {
    fn from(s: &str) -> Self {
        Input::of(Value::Str(s.to_string()))
    }
}

impl From<String> for Input<String> {
    fn from(s: String) -> Self {
        Input::of(Value::Str(s))
    }
}

impl From<&String> for Input<String> {
    fn from(s: &String) -> Self {
        Input::of(Value::Str(s.clone()))
    }
}

impl From<i64> for Input<i64> {
    fn from(n: i64) -> Self {
        Input::of(Value::Int(n))
    }
}

impl From<i32> for Input<i64> {
    fn from(n: i32) -> Self {
        Input::of(Value::Int(n.into()))
    }
}

impl From<u32> for Input<i64> {
    fn from(n: u32) -> Self {
        Input::of(Value::Int(n.into()))
    }
}

impl From<bool> for Input<bool> {
    fn from(b: bool) -> Self {
        Input::of(Value::Bool(b))
    }
}

/// A port (`9200`) or an inclusive range of ports (`Ports::range(6379, 6381)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ports {
    One(u16),
    Range(u16, u16),
}

impl Ports {
    pub fn range(from: u16, to: u16) -> Ports {
        Ports::Range(from, to)
    }
}

impl From<u16> for Input<Ports> {
    fn from(port: u16) -> Self {
        Ports::One(port).into()
    }
}

impl From<Ports> for Input<Ports> {
    fn from(p: Ports) -> Self {
        Input::of(match p {
            Ports::One(port) => Value::Int(port.into()),
            Ports::Range(from, to) => Value::Str(format!("{from}-{to}")),
        })
    }
}

/// A JSON document (an IAM policy). Build it with `serde_json::json!`; an
/// [`Output`] inside it (`"Resource": template!("arn:aws:ec2:*:*:volume/{}", data.id())`)
/// serialises as its reference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Json(Value);

impl From<serde_json::Value> for Input<Json> {
    /// A document with references inside is its JSON text, resolved as a
    /// whole once they are known, as a stack file's JSON text is.
    fn from(doc: serde_json::Value) -> Self {
        let value = with_refs(Value::from_json(&doc));
        if value.refs().is_empty() {
            return Input::of(value);
        }
        let text = serde_json::to_string_pretty(&doc).expect("a JSON document serialises");
        Input::of(Value::parse_str(&text).unwrap_or(value))
    }
}

/// A value read from JSON with the references in its strings parsed.
fn with_refs(v: Value) -> Value {
    match v {
        Value::Str(s) => Value::parse_str(&s).unwrap_or(Value::Str(s)),
        Value::List(l) => Value::List(l.into_iter().map(with_refs).collect()),
        Value::Map(m) => Value::Map(m.into_iter().map(|(k, v)| (k, with_refs(v))).collect()),
        other => other,
    }
}

impl<T> serde::Serialize for Output<T> {
    /// As the reference (`${data.id}`) or template it stands for, so that it
    /// can sit in a `serde_json::json!` document.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&expression(&self.value))
    }
}

/// The stack-file text of a value made of references and literals.
fn expression(v: &Value) -> String {
    match v {
        Value::Ref(r) => Part::text(&[Part::Ref(r.clone())]),
        Value::Template(parts) => Part::text(parts),
        Value::Secret(inner) => expression(inner.expose()),
        Value::Str(s) => Part::text(&[Part::Lit(s.clone())]),
        Value::Int(n) => n.to_string(),
        other => other.to_json().to_string(),
    }
}

/// What a template may be made of: literal text and outputs.
pub struct Piece {
    parts: Vec<Part>,
    secret: bool,
}

impl From<&str> for Piece {
    fn from(s: &str) -> Self {
        Piece { parts: vec![Part::Lit(s.to_string())], secret: false }
    }
}

impl From<String> for Piece {
    fn from(s: String) -> Self {
        Piece { parts: vec![Part::Lit(s)], secret: false }
    }
}

impl From<&String> for Piece {
    fn from(s: &String) -> Self {
        Piece::from(s.as_str())
    }
}

impl From<i64> for Piece {
    fn from(n: i64) -> Self {
        Piece::from(n.to_string())
    }
}

impl<T> From<&Output<T>> for Piece {
    fn from(o: &Output<T>) -> Self {
        fn parts(v: &Value, secret: &mut bool) -> Vec<Part> {
            match v {
                Value::Ref(r) => vec![Part::Ref(r.clone())],
                Value::Template(p) => p.clone(),
                Value::Secret(inner) => {
                    *secret = true;
                    parts(inner.expose(), secret)
                }
                Value::Str(s) => vec![Part::Lit(s.clone())],
                other => vec![Part::Lit(other.to_json().to_string())],
            }
        }
        let mut secret = false;
        let parts = parts(&o.value, &mut secret);
        Piece { parts, secret }
    }
}

impl<T> From<Output<T>> for Piece {
    fn from(o: Output<T>) -> Self {
        Piece::from(&o)
    }
}

/// Builds a string output from `format`, its `{}` taking `pieces` in turn (see
/// [`template!`](crate::template)). A secret piece makes the whole a secret.
///
/// # Panics
/// When the number of `{}` and of pieces differ: a mistake in the program's
/// text, as in `format!`.
pub fn template(format: &str, pieces: Vec<Piece>) -> Output<String> {
    let literals: Vec<&str> = format.split("{}").collect();
    assert_eq!(
        literals.len(),
        pieces.len() + 1,
        "template!({format:?}) has {} `{{}}` but {} arguments",
        literals.len() - 1,
        pieces.len()
    );
    let mut parts: Vec<Part> = Vec::new();
    let mut secret = false;
    for (i, literal) in literals.iter().enumerate() {
        Part::push(&mut parts, Part::Lit(literal.to_string()));
        if let Some(piece) = pieces.get(i) {
            secret |= piece.secret;
            piece.parts.iter().cloned().for_each(|p| Part::push(&mut parts, p));
        }
    }
    let value = Part::join(parts);
    Output::of(if secret { Value::secret(value) } else { value })
}

/// A string output made of text and outputs, as `format!` makes a string:
/// `template!("arn:aws:s3:::{}/*", bucket.id())`. Only `{}` is supported.
#[macro_export]
macro_rules! template {
    ($format:literal $(, $piece:expr)* $(,)?) => {
        $crate::program::template($format, vec![$($crate::program::Piece::from($piece)),*])
    };
}

/// A declared resource in the program: its logical name, and the typed
/// getters of its outputs (generated per kind).
pub struct Handle<R> {
    name: String,
    kind: PhantomData<fn() -> R>,
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle { name: self.name.clone(), kind: PhantomData }
    }
}

impl<R> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({})", self.name)
    }
}

impl<R> Handle<R> {
    pub(crate) fn new(name: &str) -> Self {
        Handle { name: name.to_string(), kind: PhantomData }
    }

    /// The resource's logical name (`name()`, where a kind has one, is its
    /// `name` output).
    pub fn logical_name(&self) -> &str {
        &self.name
    }

    /// The attribute `attr`, as the generated getters give it.
    #[doc(hidden)]
    pub fn attr<T>(&self, attr: &str) -> Output<T> {
        Output::of(Value::Ref(Ref::new(self.name.clone(), attr)))
    }
}

/// A typed resource declaration, generated per kind from its schema.
pub trait Declare {
    /// The kind it declares.
    const KIND: Kind;
    /// Its properties, as a stack file would give them.
    fn into_props(self) -> Props;
}

/// Turns the typed parts of a declaration into values.
#[doc(hidden)]
pub trait IntoValue {
    fn into_value(self) -> Value;
}

impl<T> IntoValue for Input<T> {
    fn into_value(self) -> Value {
        self.value
    }
}

impl<T: IntoValue> IntoValue for Vec<T> {
    fn into_value(self) -> Value {
        Value::List(self.into_iter().map(IntoValue::into_value).collect())
    }
}

impl<T: IntoValue> IntoValue for BTreeSet<T> {
    fn into_value(self) -> Value {
        Value::List(self.into_iter().map(IntoValue::into_value).collect())
    }
}

impl<T: IntoValue> IntoValue for BTreeMap<String, T> {
    fn into_value(self) -> Value {
        Value::Map(self.into_iter().map(|(k, v)| (k, v.into_value())).collect())
    }
}

/// Collects `items` as the typed inputs of a list, set or map property.
#[doc(hidden)]
pub fn inputs<T, I: Into<Input<T>>>(items: impl IntoIterator<Item = I>) -> Vec<Input<T>> {
    items.into_iter().map(Into::into).collect()
}

/// Inserts `value` under `name` when present.
#[doc(hidden)]
pub fn put(props: &mut Props, name: &str, value: Option<impl IntoValue>) {
    if let Some(v) = value {
        props.insert(name.to_string(), v.into_value());
    }
}

/// A generated enum's value.
#[doc(hidden)]
pub fn enum_input<T>(name: &str) -> Input<T> {
    Input::of(Value::Str(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str) -> Output<String> {
        Output::of(Value::secret(Value::Ref(Ref::new("secret", name))))
    }

    #[test]
    fn a_template_joins_text_and_references_in_order() {
        let ip: Output<String> = Handle::<()>::new("app_env").attr("private_ip");
        let nodes = crate::template!("{}:6379,{}:6380", &ip, &ip);
        let r = Part::Ref(Ref::new("app_env", "private_ip"));
        assert_eq!(
            *nodes.value(),
            Value::Template(vec![r.clone(), Part::Lit(":6379,".into()), r, Part::Lit(":6380".into())])
        );
        // One reference alone is that reference; text alone is text.
        assert_eq!(*crate::template!("{}", &ip).value(), Value::Ref(Ref::new("app_env", "private_ip")));
        assert_eq!(*crate::template!("plain {}", "text").value(), Value::Str("plain text".into()));
    }

    #[test]
    fn a_secret_stays_a_secret_through_every_template() {
        let url = crate::template!("redis://:{}@{}:6379", secret("redis_password"), "10.0.0.1");
        let Value::Secret(inner) = url.value() else { panic!("not a secret: {url:?}") };
        assert_eq!(
            *inner.expose(),
            Value::Template(vec![
                Part::Lit("redis://:".into()),
                Part::Ref(Ref::new("secret", "redis_password")),
                Part::Lit("@10.0.0.1:6379".into()),
            ])
        );
        // And through a template of that template.
        assert!(matches!(crate::template!("url={}", &url).value(), Value::Secret(_)));
    }

    #[test]
    fn a_json_document_with_a_reference_is_its_text_resolved_as_a_whole() {
        let arn: Output<String> = Handle::<()>::new("artifacts").attr("arn");
        let doc: Input<Json> = serde_json::json!({ "Resource": crate::template!("{}/*", &arn) }).into();
        let Value::Template(parts) = doc.into_value() else { panic!("not a template") };
        assert!(parts.contains(&Part::Ref(Ref::new("artifacts", "arn"))), "{parts:?}");
        // Without references, a document is a table.
        let plain: Input<Json> = serde_json::json!({ "Version": "2012-10-17" }).into();
        assert!(matches!(plain.into_value(), Value::Map(_)));
    }

    #[test]
    #[should_panic(expected = "has 2 `{}` but 1 arguments")]
    fn a_template_with_fewer_arguments_than_places_is_a_bug_in_the_program() {
        let _ = template("{}:{}", vec![Piece::from("a")]);
    }
}
