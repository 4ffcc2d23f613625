//! Resource schemas: which properties a kind has, their types and defaults, which
//! of them force a replacement, and how values are normalised before comparison.
//!
//! Each kind's schema is static data in `model::kinds`; this file holds the
//! types and the generic checks that every stack (file or program) goes through.

use std::collections::BTreeSet;

use super::value::{Props, Value};
use super::{Path, ValidationError};

/// The type of a property.
#[derive(Debug)]
pub enum Ty {
    Str,
    /// A whole number in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    /// An IPv4 or IPv6 network in CIDR notation.
    Cidr,
    /// A port (`443`) or an inclusive range (`"6379-6381"`), 0-65535.
    Ports,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    /// A list whose order matters.
    List(&'static Ty),
    /// A list whose order does not matter: sorted and deduplicated before comparison.
    Set(&'static Ty),
    /// A table with known fields.
    Object(&'static [Field]),
    /// A table of string keys to values of one type (tags, environment variables).
    Map(&'static Ty),
    /// A JSON document (policies), compared by meaning.
    Json,
}

/// A default for an optional property.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    None,
    Str(&'static str),
    Int(i64),
    Bool(bool),
}

/// One property of a kind (or one field of an object property).
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub default: Default,
    /// A change to this property replaces the resource.
    pub force_new: bool,
    /// A secret: never shown in plans or logs.
    pub secret: bool,
    /// What the property refers to stays in use while it does: AWS refuses to
    /// delete it (an instance's security group), or this resource stops
    /// working without it (an instance profile). When what it refers to must
    /// be deleted before its replacement exists, this resource is replaced
    /// with it instead of pointing at nothing in the meantime.
    pub keeps_in_use: bool,
    pub doc: &'static str,
}

impl Field {
    /// An optional property with no default, updatable in place.
    pub const fn new(name: &'static str, ty: Ty, doc: &'static str) -> Field {
        Field {
            name,
            ty,
            required: false,
            default: Default::None,
            force_new: false,
            secret: false,
            keeps_in_use: false,
            doc,
        }
    }
    pub const fn required(mut self) -> Field {
        self.required = true;
        self
    }
    pub const fn default(mut self, d: Default) -> Field {
        self.default = d;
        self
    }
    pub const fn force_new(mut self) -> Field {
        self.force_new = true;
        self
    }
    pub const fn secret(mut self) -> Field {
        self.secret = true;
        self
    }
    pub const fn keeps_in_use(mut self) -> Field {
        self.keeps_in_use = true;
        self
    }
}

/// Whether the new resource of a replacement can exist beside the old one,
/// and so be created first: each kind says so from its naming rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// Old and new can coexist, so the new one is created first. `unique_name`
    /// is the property naming it where AWS requires names to be unique: a
    /// generated name gets a suffix for the replacement, and a changed declared
    /// name differs anyway, but a declared name that stays the same cannot be
    /// held twice, and then the old one is deleted first.
    CreateFirst { unique_name: Option<&'static str> },
    /// Only one can exist at a time: the old one is deleted first.
    DeleteFirst,
}

/// Refuses an in-place change, given the normalised properties before and after.
pub type UpdateCheck = fn(&Props, &Props) -> Result<(), String>;

/// Everything the engine knows about a kind without talking to AWS.
#[derive(Debug)]
pub struct Schema {
    /// The name used in stack files: `ec2.security_group`.
    pub type_name: &'static str,
    pub fields: &'static [Field],
    /// Attributes known once the resource exists, referable as `${name.attr}`.
    /// Every kind has `id`.
    pub outputs: &'static [&'static str],
    /// Whether the kind carries tags (and so the `infra:*` ownership tags).
    pub taggable: bool,
    /// Cross-field checks beyond types (a reversed range, a missing either/or).
    pub check: fn(&Props) -> Result<(), ValidationError>,
    /// Refuses an in-place change AWS cannot make (a volume that would shrink),
    /// given the normalised properties before and after.
    pub check_update: Option<UpdateCheck>,
    /// Brings a concrete property map to its canonical form, so that equal
    /// meanings compare equal (sorted sets, canonical CIDRs, flattened rules).
    pub normalize: fn(&mut Props),
    /// Whether a replacement can create the new resource before deleting the
    /// old one, and `replacement_why`, the naming rule that decides it.
    pub replacement: Replacement,
    pub replacement_why: &'static str,
    /// Narrows what AWS reports to what the stack manages, given the recorded
    /// properties (AWS reports every option setting; a stack declares a few).
    pub trim_observed: Option<fn(&Props, &mut Props)>,
    /// Outputs AWS renews by itself (those of the instance behind an
    /// environment, which it replaces at will): what a read reports replaces
    /// what was recorded, an absent one included.
    pub volatile_outputs: &'static [&'static str],
    /// Whether an in-place update from the first properties to the second
    /// renews `volatile_outputs` (a new instance): a plan shows them, and what
    /// refers to them, as known after apply.
    pub update_renews_outputs: fn(&Props, &Props) -> bool,
    /// Deleting the resource deletes data nothing else keeps (an EBS volume):
    /// plans say so on every delete and replace of it.
    pub holds_data: bool,
    /// What the resource's id is, as `infra import` takes it.
    pub id_form: &'static str,
}

/// The defaults new schemas start from: `Schema { type_name, fields, ..BASE }`.
pub const BASE: Schema = Schema {
    type_name: "",
    fields: &[],
    outputs: &["id"],
    taggable: false,
    check: no_check,
    check_update: None,
    normalize: |_| {},
    replacement: Replacement::CreateFirst { unique_name: None },
    replacement_why: "it has no name AWS requires to be unique",
    trim_observed: None,
    volatile_outputs: &[],
    update_renews_outputs: |_, _| false,
    holds_data: false,
    id_form: "its cloud id",
};

/// A `check` that accepts everything.
pub fn no_check(_: &Props) -> Result<(), ValidationError> {
    Ok(())
}

impl Schema {
    /// The outputs to record after a read: the recorded ones, updated with what
    /// AWS reports, and without a volatile one it no longer reports.
    pub fn merged_outputs(&self, recorded: &Props, observed: &Props) -> Props {
        let mut out = recorded.clone();
        out.retain(|k, _| !self.volatile_outputs.contains(&k.as_str()) || observed.contains_key(k));
        out.extend(observed.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether `attr` can be referenced as `${resource.attr}`.
    pub fn has_attr(&self, attr: &str) -> bool {
        attr == "id" || self.outputs.contains(&attr) || self.field(attr).is_some()
    }

    /// Checks a declared property map against this schema: unknown keys, missing
    /// required properties, types and ranges. Values holding references are checked
    /// only for their shape, since their content is not known yet.
    pub fn validate(&self, props: &Props, at: &Path) -> Result<(), ValidationError> {
        check_fields(self.fields, props, at)?;
        (self.check)(props).map_err(|e| e.under(at))
    }

    /// Declared properties in canonical form: defaults filled in, then
    /// [`Schema::canonical`].
    pub fn normalized(&self, props: &Props) -> Props {
        self.normalize_props(props.clone())
    }

    /// [`Schema::normalized`], in place of a copy: for properties the caller
    /// owns and will not use again.
    pub fn normalize_props(&self, mut props: Props) -> Props {
        for f in self.fields {
            if !props.contains_key(f.name)
                && let Some(d) = default_value(f.default)
            {
                props.insert(f.name.to_string(), d);
            }
        }
        self.canonicalize(props)
    }

    /// Properties in canonical form, without filling in defaults (for what AWS
    /// reports, where a missing property means "not reported", not "default"):
    /// set semantics and the kind's own normalisation.
    pub fn canonical(&self, props: &Props) -> Props {
        self.canonicalize(props.clone())
    }

    /// [`Schema::canonical`], in place of a copy.
    pub fn canonicalize(&self, mut props: Props) -> Props {
        for f in self.fields {
            if let Some(v) = props.get_mut(f.name) {
                normalize_field(f, v);
            }
        }
        (self.normalize)(&mut props);
        props
    }

    /// Names of the secret properties.
    pub fn secrets(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().filter(|f| f.secret).map(|f| f.name)
    }
}

fn default_value(d: Default) -> Option<Value> {
    match d {
        Default::None => None,
        Default::Str(s) => Some(Value::Str(s.to_string())),
        Default::Int(i) => Some(Value::Int(i)),
        Default::Bool(b) => Some(Value::Bool(b)),
    }
}

/// A field's value in canonical form; a `secret` field's value is a secret
/// wherever it came from (declared, or reported by AWS).
fn normalize_field(f: &Field, v: &mut Value) {
    normalize_ty(&f.ty, v);
    if f.secret && !matches!(v, Value::Secret(_) | Value::Null) {
        *v = Value::secret(std::mem::replace(v, Value::Null));
    }
}

fn normalize_ty(ty: &Ty, v: &mut Value) {
    match (ty, v) {
        (Ty::Json, v @ Value::Map(_)) if v.is_known() && v.contains_secret() => {
            *v = Value::secret(canonical_json(&v.reveal().to_json()));
        }
        (ty, Value::Secret(s)) => normalize_ty(ty, s.expose_mut()),
        (Ty::Set(inner), Value::List(items)) => {
            items.iter_mut().for_each(|i| normalize_ty(inner, i));
            let set: BTreeSet<Value> = items.drain(..).collect();
            items.extend(set);
        }
        (Ty::List(inner), Value::List(items)) => items.iter_mut().for_each(|i| normalize_ty(inner, i)),
        (Ty::Object(fields), Value::Map(m)) => {
            for f in *fields {
                if let Some(v) = m.get_mut(f.name) {
                    normalize_field(f, v);
                } else if let Some(d) = default_value(f.default) {
                    m.insert(f.name.to_string(), d);
                }
            }
        }
        (Ty::Map(inner), Value::Map(m)) => m.values_mut().for_each(|v| normalize_ty(inner, v)),
        (Ty::Cidr, Value::Str(s)) => {
            if let Ok(net) = s.parse::<ipnet::IpNet>() {
                *s = net.trunc().to_string();
            }
        }
        (Ty::Json, Value::Str(s)) => {
            if let Ok(j) = serde_json::from_str::<serde_json::Value>(s) {
                *s = canonical_json(&j);
            }
        }
        (Ty::Json, v @ Value::Map(_)) if v.is_known() => {
            *v = Value::Str(canonical_json(&v.to_json()));
        }
        _ => {}
    }
}

/// A JSON document in canonical form: object keys sorted (serde_json's map is
/// ordered), no whitespace.
pub fn canonical_json(j: &serde_json::Value) -> String {
    serde_json::to_string(j).unwrap_or_default()
}

fn check_fields(fields: &'static [Field], props: &Props, at: &Path) -> Result<(), ValidationError> {
    for key in props.keys() {
        if !fields.iter().any(|f| f.name == key) {
            let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
            return Err(
                ValidationError::new(at.key(key), format!("unknown property `{key}`")).hint(suggest(key, &known))
            );
        }
    }
    for f in fields {
        match props.get(f.name) {
            None if f.required => {
                return Err(ValidationError::new(at.clone(), format!("missing property `{}`", f.name))
                    .hint(format!("`{}`: {}", f.name, f.doc)));
            }
            None => {}
            Some(v) => check_value(&f.ty, v, &at.key(f.name))?,
        }
    }
    Ok(())
}

/// A hint naming the closest known key, or listing them all.
fn suggest(key: &str, known: &[&str]) -> String {
    let close = known.iter().filter(|k| similar_name(key, k)).collect::<Vec<_>>();
    match close.first() {
        Some(k) => format!("did you mean `{k}`?"),
        None => format!("known properties: {}", known.join(", ")),
    }
}

fn similar_name(a: &str, b: &str) -> bool {
    let ops = similar::TextDiff::from_chars(a, b).ratio();
    ops >= 0.7
}

fn check_value(ty: &Ty, v: &Value, at: &Path) -> Result<(), ValidationError> {
    // An expression's content is checked once resolved; here only its place.
    if matches!(v, Value::Ref(_) | Value::Template(_)) {
        return Ok(());
    }
    // A secret is checked like its content, but the error never quotes it.
    if let Value::Secret(s) = v {
        return check_value(ty, s.expose(), at).map_err(|e| {
            ValidationError::new(e.path, format!("the secret's value is not valid here: expected {}", expected(ty)))
        });
    }
    let wrong =
        |expected: &str| Err(ValidationError::new(at.clone(), format!("expected {expected}, found {}", describe(v))));
    match ty {
        Ty::Str | Ty::Json => match v {
            Value::Str(s) if matches!(ty, Ty::Json) => serde_json::from_str::<serde_json::Value>(s)
                .map(|_| ())
                .map_err(|e| ValidationError::new(at.clone(), format!("invalid JSON document: {e}"))),
            Value::Str(_) => Ok(()),
            Value::Map(_) if matches!(ty, Ty::Json) => Ok(()),
            _ => wrong("a string"),
        },
        Ty::Int { min, max } => match v {
            Value::Int(i) if i < min || i > max => {
                Err(ValidationError::new(at.clone(), format!("{i} is out of range: expected {min} to {max}")))
            }
            Value::Int(_) => Ok(()),
            _ => wrong("a whole number"),
        },
        Ty::Bool => match v {
            Value::Bool(_) => Ok(()),
            _ => wrong("true or false"),
        },
        Ty::Cidr => match v {
            Value::Str(s) => s.parse::<ipnet::IpNet>().map(|_| ()).map_err(|_| {
                ValidationError::new(at.clone(), format!("invalid CIDR block {s:?}"))
                    .hint("write an address and a prefix length, such as \"10.0.0.0/16\"")
            }),
            _ => wrong("a CIDR block string"),
        },
        Ty::Ports => parse_ports(v).map(|_| ()).map_err(|m| {
            ValidationError::new(at.clone(), m).hint("write a port (9200) or an inclusive range (\"6379-6381\")")
        }),
        Ty::Enum(options) => match v {
            Value::Str(s) if options.contains(&s.as_str()) => Ok(()),
            Value::Str(s) => Err(ValidationError::new(at.clone(), format!("invalid value {s:?}"))
                .hint(format!("expected one of: {}", options.join(", ")))),
            _ => wrong("a string"),
        },
        Ty::List(inner) | Ty::Set(inner) => match v {
            Value::List(items) => {
                items.iter().enumerate().try_for_each(|(i, item)| check_value(inner, item, &at.index(i)))
            }
            _ => wrong("a list"),
        },
        Ty::Object(fields) => match v {
            Value::Map(m) => check_fields(fields, m, at),
            _ => wrong("a table"),
        },
        Ty::Map(inner) => match v {
            Value::Map(m) => m.iter().try_for_each(|(k, item)| check_value(inner, item, &at.key(k))),
            _ => wrong("a table"),
        },
    }
}

/// Parses a `Ports` value into an inclusive `(from, to)` range.
pub fn parse_ports(v: &Value) -> Result<(i64, i64), String> {
    let (from, to) = match v {
        Value::Int(p) => (*p, *p),
        Value::Str(s) => {
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            let num = |x: &str| x.trim().parse::<i64>().map_err(|_| format!("invalid port range {s:?}"));
            (num(a)?, num(b)?)
        }
        other => return Err(format!("expected a port or a port range, found {}", describe(other))),
    };
    for p in [from, to] {
        if !(0..=65535).contains(&p) {
            return Err(format!("port {p} is out of range: expected 0 to 65535"));
        }
    }
    if from > to {
        return Err(format!("port range {from}-{to} is reversed"));
    }
    Ok((from, to))
}

/// A short description of a value's type, for error messages.
pub fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "a number",
        Value::Str(_) => "a string",
        Value::List(_) => "a list",
        Value::Map(_) => "a table",
        Value::Ref(_) | Value::Template(_) => "a reference",
        Value::Unknown => "an unknown value",
        Value::Secret(_) => "a secret",
    }
}

/// What a type accepts, in words (for errors that may not quote the value).
fn expected(ty: &Ty) -> String {
    match ty {
        Ty::Str => "a string".into(),
        Ty::Int { min, max } => format!("a whole number from {min} to {max}"),
        Ty::Bool => "true or false".into(),
        Ty::Cidr => "a CIDR block".into(),
        Ty::Ports => "a port or a port range".into(),
        Ty::Enum(options) => format!("one of: {}", options.join(", ")),
        Ty::List(_) | Ty::Set(_) => "a list".into(),
        Ty::Object(_) | Ty::Map(_) => "a table".into(),
        Ty::Json => "a JSON document".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SECRET_FIELDS: Schema = Schema {
        type_name: "test.secret",
        fields: &[Field::new("password", Ty::Str, "a password").secret(), Field::new("name", Ty::Str, "a name")],
        ..BASE
    };

    #[test]
    fn a_secret_field_is_a_secret_whether_declared_or_reported() {
        let props: Props = [("password".to_string(), Value::from("pw")), ("name".to_string(), Value::from("n"))].into();
        let canonical = SECRET_FIELDS.canonical(&props);
        assert_eq!(canonical["password"], Value::secret("pw"));
        assert_eq!(canonical["name"], Value::from("n"));
        assert_eq!(SECRET_FIELDS.canonical(&canonical), canonical, "idempotent");
    }
}
