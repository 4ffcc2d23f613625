//! The JSON Schema of a stack file (`infra schema`, committed as
//! `docs/stack.schema.json`): what editors complete and check a stack file
//! against, through the TOML language server (taplo, which VS Code's Even
//! Better TOML runs). It is generated from the same sources infra reads a stack
//! file with: each kind's schema ([`crate::model::schema`]), the meta keys every
//! resource takes, and the sections [`super::build`] knows, so that the schema
//! and infra cannot disagree on a key.
//!
//! Any property may be given as a reference (`"${data.availability_zone}"`,
//! `"${config.ssh_cidrs}"`): infra resolves it before it checks the value, so
//! a reference string is accepted wherever a value of another type is.

use serde_json::{Map, Value as Json, json};

use super::build::REFERRED_TABLES;
use crate::model::Kind;
use crate::model::schema::{Default, Field, Ty};

/// Where the repository keeps the generated schema.
pub const COMMITTED: &str = "docs/stack.schema.json";

/// A reference: `${resource.attribute}`, `${config.KEY}`, ...
const REFERENCE: &str = r"\$\{[^}]+\}";
const CIDR_V4: &str = r"([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}";
const CIDR_V6: &str = r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/[0-9]{1,3}";
/// S3's rules for a general purpose bucket's name, as far as a pattern goes.
const BUCKET_NAME: &str = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";

/// What each top-level table holds.
const SECTIONS: &[(&str, &str)] = &[
    ("stack", "The stack's settings: its region, the tags every resource carries, or the program that declares it."),
    ("backend", "Where the stack's state lives when not in state/<stack>.json (docs/state.md)."),
    ("config", "Plain values the stack refers to as ${config.KEY}."),
    ("secrets", "Secrets read when infra runs, referred to as ${secret.NAME}; never shown or stored in plain text."),
    ("cost", "The usage infra cost prices usage-priced resources at, and the managed services to compare with."),
    (
        "resources",
        "The resources of the stack, by name; each has a `type` and that kind's properties (docs/resources.md).",
    ),
    ("outputs", "Values shown after apply and read by `infra output`, by name."),
];

const STACK_SETTINGS: &[(&str, &str)] = &[
    ("region", "The AWS region of every resource; else the region of the AWS configuration."),
    ("tags", "Tags every taggable resource carries, beside infra's own."),
    ("program", "A command whose output declares the stack's resources and outputs (a typed program)."),
    ("program_timeout", "Seconds the program may take to declare the stack (default 600)."),
];

const S3_SETTINGS: &[(&str, &str)] = &[
    ("bucket", "The bucket that holds the state, its journal and its lock."),
    ("key_prefix", "The prefix of the state's keys in the bucket."),
    ("region", "The bucket's region; else the stack's."),
    ("expected_owner", "The 12-digit account that must own the bucket; else the credentials' account."),
    ("kms_key_id", "The KMS key (id, ARN or alias) the state objects are encrypted with."),
];

const SECRET_SETTINGS: &[(&str, &str)] = &[
    ("env", "The environment variable that holds the secret."),
    ("file", "The file whose text (without its last newline) is the secret."),
];

const META: &[(&str, &str)] = &[
    ("type", "The resource's kind."),
    ("depends_on", "Resources this one is created after and deleted before, beside those it refers to."),
    ("ignore_changes", "Properties whose changes in AWS the plan keeps instead of reverting."),
    ("protect", "No plan may delete or replace this resource while true."),
    ("allow", "Policy checks this resource is exempt from, each with the reason (docs/checks.md)."),
];

/// The JSON Schema (draft-07) of a stack file.
pub fn stack_file() -> Json {
    let mut definitions = Map::new();
    for kind in Kind::ALL {
        definitions.insert(kind.schema().type_name.to_string(), resource(*kind));
    }
    let mut cost = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<crate::model::cost::Settings>()
        .to_value();
    if let Some(Json::Object(more)) = cost.as_object_mut().and_then(|c| c.remove("definitions")) {
        definitions.extend(more);
    }
    if let Some(c) = cost.as_object_mut() {
        c.remove("$schema");
        c.remove("title");
    }

    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.schema().type_name).collect();
    let by_kind: Vec<Json> = kinds
        .iter()
        .map(|name| {
            json!({
                "if": { "properties": { "type": { "const": name } }, "required": ["type"] },
                "then": { "$ref": format!("#/definitions/{name}") }
            })
        })
        .collect();
    // Names that refer to something else in a reference (`${config.KEY}`).
    let mut reserved = vec![crate::model::AWS];
    reserved.extend(REFERRED_TABLES);
    let mut sections = Map::new();
    for (name, doc) in SECTIONS {
        let body = match *name {
            "stack" => table(STACK_SETTINGS, &[], |key| match key {
                "tags" => json!({ "type": "object", "additionalProperties": { "type": "string" } }),
                "program_timeout" => json!({ "type": "integer", "minimum": 1 }),
                _ => json!({ "type": "string" }),
            }),
            "backend" => json!({
                "type": "object",
                "properties": { "s3": table(S3_SETTINGS, &["bucket"], |key| match key {
                    "expected_owner" => json!({ "type": "string", "pattern": "^[0-9]{12}$" }),
                    "bucket" => json!({ "type": "string", "pattern": BUCKET_NAME }),
                    _ => json!({ "type": "string" }),
                }) },
                "additionalProperties": false
            }),
            "config" => json!({ "type": "object" }),
            "secrets" => json!({
                "type": "object",
                "additionalProperties": {
                    "allOf": [table(SECRET_SETTINGS, &[], |_| json!({ "type": "string" }))],
                    "minProperties": 1,
                    "maxProperties": 1
                }
            }),
            "cost" => cost.clone(),
            "resources" => json!({
                "type": "object",
                "propertyNames": { "not": { "enum": reserved } },
                "additionalProperties": {
                    "type": "object",
                    "properties": { "type": { "enum": kinds, "description": "The resource's kind." } },
                    "required": ["type"],
                    "allOf": by_kind
                }
            }),
            _ => json!({ "type": "object" }),
        };
        sections.insert(name.to_string(), described(body, doc));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "infra stack file",
        "description": "A stack file, stacks/<name>.toml, as infra reads it. Generated by `infra schema`.",
        "type": "object",
        "properties": sections,
        "additionalProperties": false,
        "definitions": definitions
    })
}

/// A table with these keys (each described), these required, and no other.
fn table(keys: &[(&str, &str)], required: &[&str], ty: impl Fn(&str) -> Json) -> Json {
    let properties: Map<String, Json> =
        keys.iter().map(|(key, doc)| (key.to_string(), described(ty(key), doc))).collect();
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

fn described(mut schema: Json, doc: &str) -> Json {
    if let Some(o) = schema.as_object_mut() {
        o.insert("description".into(), Json::from(doc));
    }
    schema
}

/// A resource of `kind`: its properties and the meta keys, nothing else.
fn resource(kind: Kind) -> Json {
    let schema = kind.schema();
    let mut properties = Map::new();
    for (key, doc) in META {
        let body = match *key {
            "type" => json!({ "const": schema.type_name }),
            "depends_on" => json!({ "type": "array", "items": { "type": "string" } }),
            "ignore_changes" => {
                let names: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
                json!({ "type": "array", "items": { "enum": names } })
            }
            "protect" => json!({ "type": "boolean" }),
            _ => json!({ "type": "object", "additionalProperties": { "type": "string", "minLength": 1 } }),
        };
        properties.insert(key.to_string(), described(body, doc));
    }
    for field in schema.fields {
        properties.insert(field.name.to_string(), property(field));
    }
    let mut required = vec!["type"];
    required.extend(schema.fields.iter().filter(|f| f.required).map(|f| f.name));
    json!({
        "type": "object",
        "description": format!("A `{}`: {}.", schema.type_name, schema.id_form),
        "properties": properties,
        "required": required,
        "additionalProperties": false
    })
}

/// One property: its type, its doc, its default, and whether it replaces.
fn property(field: &Field) -> Json {
    let mut doc = upper_first(field.doc);
    if field.force_new {
        doc.push_str(". Changing it replaces the resource");
    }
    if field.secret {
        doc.push_str(". A secret: give it as ${secret.NAME}");
    }
    doc.push('.');
    let mut schema = described(ty(&field.ty), &doc);
    let default = match field.default {
        Default::None => None,
        Default::Str(s) => Some(Json::from(s)),
        Default::Int(i) => Some(Json::from(i)),
        Default::Bool(b) => Some(Json::from(b)),
    };
    if let (Some(default), Some(o)) = (default, schema.as_object_mut()) {
        o.insert("default".into(), default);
    }
    schema
}

/// A value of type `t`, or a reference to one. A reference is a string, and
/// each keyword below applies to one JSON type only (`pattern` to strings,
/// `items` to arrays, `minimum` to numbers), so most types need no `anyOf`:
/// an editor then names the very key or item that is wrong.
fn ty(t: &Ty) -> Json {
    let reference = format!("^{REFERENCE}$");
    match t {
        Ty::Str => json!({ "type": "string" }),
        Ty::Cidr => json!({ "type": "string", "pattern": format!("^({CIDR_V4}|{CIDR_V6})$|{REFERENCE}") }),
        Ty::Int { min, max } => {
            json!({ "type": ["integer", "string"], "minimum": min, "maximum": max, "pattern": reference })
        }
        Ty::Bool => json!({ "type": ["boolean", "string"], "pattern": reference }),
        Ty::Ports => json!({
            "type": ["integer", "string"],
            "minimum": 0,
            "maximum": 65535,
            "pattern": format!("^[0-9]{{1,5}}(-[0-9]{{1,5}})?$|{reference}")
        }),
        Ty::Enum(options) => json!({ "anyOf": [{ "enum": options }, { "type": "string", "pattern": reference }] }),
        Ty::List(inner) | Ty::Set(inner) => {
            json!({ "type": ["array", "string"], "items": ty(inner), "pattern": reference })
        }
        Ty::Object(fields) => {
            let properties: Map<String, Json> = fields.iter().map(|f| (f.name.to_string(), property(f))).collect();
            let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.name).collect();
            json!({
                "type": ["object", "string"],
                "properties": properties,
                "required": required,
                "additionalProperties": false,
                "pattern": reference
            })
        }
        Ty::Map(inner) => {
            json!({ "type": ["object", "string"], "additionalProperties": ty(inner), "pattern": reference })
        }
        // A JSON document, as text or as a TOML table.
        Ty::Json => json!({ "type": ["string", "object"] }),
    }
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::build::{BACKENDS, S3_KEYS, SECRET_SOURCES, STACK_KEYS, TOP_LEVEL};
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> Vec<String> {
        let mut keys: Vec<String> = pairs.iter().map(|(k, _)| k.to_string()).collect();
        keys.sort();
        keys
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = list.iter().map(|k| k.to_string()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_schema_knows_exactly_the_keys_the_reader_knows() {
        assert_eq!(keys(SECTIONS), sorted(TOP_LEVEL));
        assert_eq!(keys(STACK_SETTINGS), sorted(STACK_KEYS));
        assert_eq!(keys(S3_SETTINGS), sorted(S3_KEYS));
        assert_eq!(BACKENDS, ["s3"]);
        assert_eq!(keys(SECRET_SETTINGS), sorted(SECRET_SOURCES));
    }

    #[test]
    fn every_kind_is_a_definition_with_its_properties_and_the_meta_keys() {
        let schema = stack_file();
        for kind in Kind::ALL {
            let s = kind.schema();
            let def = &schema["definitions"][s.type_name];
            for field in s.fields {
                assert!(def["properties"][field.name].is_object(), "{}: {}", s.type_name, field.name);
                assert!(def["properties"][field.name]["description"].is_string(), "{}: {}", s.type_name, field.name);
            }
            for (meta, _) in META {
                assert!(def["properties"][meta].is_object(), "{}: {meta}", s.type_name);
            }
            assert_eq!(def["additionalProperties"], false);
        }
    }
}
