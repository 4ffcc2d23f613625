//! Generates `src/program/generated.rs`, the typed resources of stack programs,
//! from the kinds' schemas: a struct per kind (required properties in its
//! constructor, the others optional, with a setter each), an enum per
//! enumerated property, a struct per nested table, and the typed getters of a
//! resource's [`Handle`](super::Handle). Field docs are the schemas' (the same
//! text as docs/resources.md).
//!
//! The generated file is committed; `tests/program_typed.rs` fails when it is
//! not what this generator writes (`UPDATE_GOLDEN=1` rewrites it).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::model::Kind;
use crate::model::schema::{Default, Field, Ty};

/// Names of nested tables whose field name does not name them well, by
/// (type, field). A table shared by two fields (ingress and egress rules) is
/// generated once, under the first one's name.
const OBJECT_NAMES: &[(&str, &str, &str)] = &[
    ("ec2.security_group", "ingress", "Rule"),
    ("elasticbeanstalk.environment", "option_settings", "OptionSetting"),
    ("codepipeline.pipeline", "source", "Source"),
];

/// The text of `src/program/generated.rs`.
pub fn generate() -> String {
    let mut out = String::from(
        "//! Typed resources for stack programs, one module per AWS service and one\n\
         //! struct per resource type, generated from the schemas by\n\
         //! `infra::program::codegen`. Do not edit: `UPDATE_GOLDEN=1 cargo test --test\n\
         //! program_typed` rewrites it.\n\
         \n\
         #![allow(clippy::all)]\n\
         \n\
         use std::collections::{BTreeMap, BTreeSet};\n\
         \n\
         use crate::model::{Kind, Props};\n\
         use crate::program::{Declare, Handle, Input, IntoValue, Json, Output, Ports, enum_input, inputs, put};\n",
    );
    let mut services: BTreeMap<&str, Vec<Kind>> = BTreeMap::new();
    for kind in Kind::ALL {
        services.entry(kind.service()).or_default().push(*kind);
    }
    for (service, kinds) in services {
        let mut module = Module::default();
        for kind in kinds {
            module.kind(kind);
        }
        writeln!(out, "\n/// Resource types of AWS {service}.\npub mod {service} {{\n    use super::*;").unwrap();
        for item in module.items {
            out.push('\n');
            for line in item.lines() {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    writeln!(out, "    {line}").unwrap();
                }
            }
        }
        out.push_str("}\n");
    }
    out
}

/// The items of one service's module, and the nested types already made.
#[derive(Default)]
struct Module {
    items: Vec<String>,
    /// Nested tables by their fields' address, so that a shared one is made once.
    objects: BTreeMap<usize, String>,
    enums: BTreeMap<usize, String>,
}

/// `volume_type` -> `VolumeType`; `aws:kms` -> `AwsKms`; `BUILD_GENERAL1_SMALL` -> `BuildGeneral1Small`.
fn camel(s: &str) -> String {
    let mut out = String::new();
    for word in s.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// A doc comment of `text`, each line prefixed.
fn doc(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { "///\n".to_string() } else { format!("/// {l}\n") }).collect()
}

fn field_doc(f: &Field) -> String {
    let mut text = f.doc.to_string();
    if let Some(first) = text.get(0..1) {
        text.replace_range(0..1, &first.to_uppercase());
    }
    if !text.ends_with('.') {
        text.push('.');
    }
    match f.default {
        Default::None => {}
        Default::Str(s) => text.push_str(&format!(" Default: `{s}`.")),
        Default::Int(n) => text.push_str(&format!(" Default: `{n}`.")),
        Default::Bool(b) => text.push_str(&format!(" Default: `{b}`.")),
    }
    if f.force_new {
        text.push_str(" Changing it replaces the resource.");
    }
    if f.secret {
        text.push_str(" A secret: never shown.");
    }
    text
}

impl Module {
    fn kind(&mut self, kind: Kind) {
        let schema = kind.schema();
        let (_, short) = schema.type_name.split_once('.').unwrap_or(("", schema.type_name));
        let name = camel(short);
        let header = format!(
            "A `{}` (docs/resources.md){}.",
            schema.type_name,
            if schema.taggable { "; it carries the `infra:stack` and `infra:name` tags" } else { "" }
        );
        self.structure(&name, &header, schema.type_name, schema.fields);
        let mut declare = format!(
            "impl Declare for {name} {{\n    const KIND: Kind = Kind::{kind:?};\n\n    fn into_props(self) -> Props {{\n        self.into_map()\n    }}\n}}\n"
        );
        declare.push_str(&format!("\nimpl Handle<{name}> {{\n"));
        let mut getters: Vec<(String, String, String)> = Vec::new();
        for output in schema.outputs {
            getters.push((output.to_string(), "String".into(), format!("Its `{output}`, known once it exists.")));
        }
        for f in schema.fields {
            let ty = match &f.ty {
                Ty::Str | Ty::Cidr | Ty::Enum(_) => "String",
                Ty::Int { .. } => "i64",
                Ty::Bool => "bool",
                _ => continue,
            };
            if getters.iter().all(|(n, _, _)| n != f.name) {
                getters.push((f.name.to_string(), ty.into(), format!("Its `{}` property, as applied.", f.name)));
            }
        }
        for (i, (attr, ty, text)) in getters.iter().enumerate() {
            if i > 0 {
                declare.push('\n');
            }
            declare.push_str(&format!(
                "    /// {text}\n    pub fn {attr}(&self) -> Output<{ty}> {{\n        self.attr(\"{attr}\")\n    }}\n"
            ));
        }
        declare.push_str("}\n");
        self.items.push(declare);
    }

    /// A struct for `fields`: the resource itself, or a nested table.
    fn structure(&mut self, name: &str, header: &str, type_name: &str, fields: &[Field]) {
        let mut types = Vec::new();
        for f in fields {
            types.push(self.rust_type(type_name, f));
        }
        let required: Vec<(&Field, &String)> = fields.iter().zip(&types).filter(|(f, _)| f.required).collect();
        let mut s = doc(header);
        s.push_str(&format!(
            "#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord{})]\npub struct {name} {{\n",
            if required.is_empty() { ", Default" } else { "" }
        ));
        for (f, ty) in fields.iter().zip(&types) {
            for line in doc(&field_doc(f)).lines() {
                s.push_str(&format!("    {line}\n"));
            }
            if f.required {
                s.push_str(&format!("    pub {}: {ty},\n", f.name));
            } else {
                s.push_str(&format!("    pub {}: Option<{ty}>,\n", f.name));
            }
        }
        s.push_str("}\n\n");
        // The constructor: required fields as arguments.
        s.push_str(&format!("impl {name} {{\n"));
        let args: Vec<String> = required.iter().map(|(f, ty)| format!("{}: {}", f.name, param(&f.ty, ty))).collect();
        let inits: Vec<String> = fields
            .iter()
            .zip(&types)
            .map(|(f, _)| {
                if f.required { format!("{}: {}", f.name, convert(&f.ty, f.name)) } else { format!("{}: None", f.name) }
            })
            .collect();
        s.push_str(&format!(
            "    /// {} with its required properties{}.\n",
            if type_name.is_empty() { format!("A `{name}`") } else { format!("A `{type_name}`") },
            if required.is_empty() {
                " (it has none)".to_string()
            } else {
                format!(": {}", required.iter().map(|(f, _)| format!("`{}`", f.name)).collect::<Vec<_>>().join(", "))
            }
        ));
        s.push_str(&format!("    pub fn new({}) -> Self {{\n", args.join(", ")));
        s.push_str(&format!("        {name} {{ {} }}\n    }}\n", inits.join(", ")));
        for (f, ty) in fields.iter().zip(&types).filter(|(f, _)| !f.required) {
            s.push('\n');
            for line in doc(&field_doc(f)).lines() {
                s.push_str(&format!("    {line}\n"));
            }
            s.push_str(&format!(
                "    pub fn {n}(mut self, {n}: {}) -> Self {{\n        self.{n} = Some({});\n        self\n    }}\n",
                param(&f.ty, ty),
                convert(&f.ty, f.name),
                n = f.name
            ));
        }
        s.push_str("\n    fn into_map(self) -> Props {\n        let mut props = Props::new();\n");
        for f in fields {
            if f.required {
                s.push_str(&format!("        props.insert(\"{n}\".to_string(), self.{n}.into_value());\n", n = f.name));
            } else {
                s.push_str(&format!("        put(&mut props, \"{n}\", self.{n});\n", n = f.name));
            }
        }
        s.push_str("        props\n    }\n}\n");
        if type_name.is_empty() {
            s.push_str(&format!(
                "\nimpl IntoValue for {name} {{\n    fn into_value(self) -> crate::model::Value {{\n        crate::model::Value::Map(self.into_map())\n    }}\n}}\n"
            ));
        }
        self.items.push(s);
    }

    /// The Rust type of a field, making the nested types it needs.
    fn rust_type(&mut self, type_name: &str, f: &Field) -> String {
        self.ty(type_name, f.name, &f.ty)
    }

    fn ty(&mut self, type_name: &str, field: &str, ty: &Ty) -> String {
        match ty {
            Ty::Str | Ty::Cidr => "Input<String>".into(),
            Ty::Int { .. } => "Input<i64>".into(),
            Ty::Bool => "Input<bool>".into(),
            Ty::Ports => "Input<Ports>".into(),
            Ty::Json => "Input<Json>".into(),
            Ty::Enum(values) => format!("Input<{}>", self.enumeration(field, values)),
            Ty::List(elem) => format!("Vec<{}>", self.ty(type_name, field, elem)),
            Ty::Set(elem) => format!("BTreeSet<{}>", self.ty(type_name, field, elem)),
            Ty::Map(elem) => format!("BTreeMap<String, {}>", self.ty(type_name, field, elem)),
            Ty::Object(fields) => self.object(type_name, field, fields),
        }
    }

    fn enumeration(&mut self, field: &str, values: &'static [&'static str]) -> String {
        let key = values.as_ptr() as usize;
        if let Some(name) = self.enums.get(&key) {
            return name.clone();
        }
        let name = camel(field);
        self.enums.insert(key, name.clone());
        let mut s = format!(
            "/// The values of `{field}`.\n#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]\npub enum {name} {{\n"
        );
        for v in values {
            s.push_str(&format!("    /// `{v}`\n    {},\n", camel(v)));
        }
        s.push_str(&format!("}}\n\nimpl {name} {{\n    /// The value as AWS and stack files spell it.\n    pub fn as_str(self) -> &'static str {{\n        match self {{\n"));
        for v in values {
            s.push_str(&format!("            {name}::{} => \"{v}\",\n", camel(v)));
        }
        s.push_str(&format!(
            "        }}\n    }}\n}}\n\nimpl From<{name}> for Input<{name}> {{\n    fn from(v: {name}) -> Self {{\n        enum_input(v.as_str())\n    }}\n}}\n"
        ));
        self.items.push(s);
        name
    }

    fn object(&mut self, type_name: &str, field: &str, fields: &'static [Field]) -> String {
        let key = fields.as_ptr() as usize;
        if let Some(name) = self.objects.get(&key) {
            return name.clone();
        }
        let name = OBJECT_NAMES
            .iter()
            .find(|(t, f, _)| *t == type_name && *f == field)
            .map(|(_, _, n)| n.to_string())
            .unwrap_or_else(|| camel(field.strip_suffix('s').unwrap_or(field)));
        self.objects.insert(key, name.clone());
        let header = format!("A `{field}` entry of a `{type_name}`.");
        self.structure(&name, &header, "", fields);
        name
    }
}

/// A setter's parameter type for a field of Rust type `ty`.
fn param(schema_ty: &Ty, ty: &str) -> String {
    match schema_ty {
        Ty::List(elem) | Ty::Set(elem) if is_scalar(elem) => {
            format!("impl IntoIterator<Item = impl Into<{}>>", inner(ty))
        }
        Ty::List(_) | Ty::Set(_) => format!("impl IntoIterator<Item = {}>", inner(ty)),
        Ty::Map(elem) if is_scalar(elem) => {
            format!("impl IntoIterator<Item = (impl Into<String>, impl Into<{}>)>", map_value(ty))
        }
        Ty::Map(_) => format!("impl IntoIterator<Item = (impl Into<String>, {})>", map_value(ty)),
        Ty::Object(_) => ty.to_string(),
        _ => format!("impl Into<{ty}>"),
    }
}

/// The conversion of a setter's parameter `name` to the field's type.
fn convert(schema_ty: &Ty, name: &str) -> String {
    match schema_ty {
        Ty::List(elem) if is_scalar(elem) => format!("inputs({name})"),
        Ty::Set(elem) if is_scalar(elem) => format!("inputs({name}).into_iter().collect()"),
        Ty::List(_) | Ty::Set(_) => format!("{name}.into_iter().collect()"),
        Ty::Map(elem) if is_scalar(elem) => format!("{name}.into_iter().map(|(k, v)| (k.into(), v.into())).collect()"),
        Ty::Map(_) => format!("{name}.into_iter().map(|(k, v)| (k.into(), v)).collect()"),
        Ty::Object(_) => name.to_string(),
        _ => format!("{name}.into()"),
    }
}

fn is_scalar(ty: &Ty) -> bool {
    !matches!(ty, Ty::List(_) | Ty::Set(_) | Ty::Map(_) | Ty::Object(_))
}

/// `Vec<X>` -> `X`.
fn inner(ty: &str) -> &str {
    let open = ty.find('<').map_or(0, |i| i + 1);
    &ty[open..ty.len() - 1]
}

/// `BTreeMap<String, X>` -> `X`.
fn map_value(ty: &str) -> &str {
    &ty["BTreeMap<String, ".len()..ty.len() - 1]
}
