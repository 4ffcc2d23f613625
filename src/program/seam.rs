//! The seam between a stack program and `infra`: the declared stack as
//! versioned JSON (docs/programs.md), which a program in any language prints
//! for `infra` to plan.
//!
//! ```json
//! { "infra_stack": 1,
//!   "name": "dev", "region": "us-east-1", "tags": { "env": "dev" },
//!   "resources": { "data": { "type": "ec2.volume", "properties": { "size": 30 },
//!                            "depends_on": [], "ignore_changes": [], "allow": {},
//!                            "protect": true } },
//!   "outputs": { "volume_id": "${data.id}" } }
//! ```
//!
//! Strings are written as in a stack file: `${resource.attr}` refers to
//! another resource, `${secret.NAME}` to a secret of the stack file's
//! `[secrets]`, and `$${` is a literal `${`. Secrets cross by name only: a
//! secret's content never appears in the JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Kind, Part, Ref, Resource, Stack, Value};

/// The format version this `infra` writes and reads.
pub const FORMAT: u32 = 1;

/// The JSON document.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StackV1 {
    infra_stack: u32,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    resources: BTreeMap<String, ResourceV1>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    outputs: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceV1 {
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    properties: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ignore_changes: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    allow: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protect: Option<bool>,
}

#[derive(Deserialize)]
struct VersionOnly {
    infra_stack: u32,
}

/// Why a declaration could not cross the seam.
#[derive(Debug, thiserror::Error)]
pub enum SeamError {
    #[error("the declaration is not valid JSON of the infra_stack format: {0}")]
    Invalid(String),
    #[error("the declaration's format version {0} is newer than this infra understands ({FORMAT}); upgrade infra")]
    TooNew(u32),
    #[error("{at}: {message}")]
    Value { at: String, message: String },
}

/// The stack as JSON. A secret is written as the `${secret.NAME}` it was
/// declared with; one that holds its content is refused.
pub fn to_json(stack: &Stack) -> Result<String, SeamError> {
    let mut resources = BTreeMap::new();
    for (name, r) in &stack.resources {
        let mut properties = BTreeMap::new();
        for (key, v) in &r.props {
            properties.insert(key.clone(), json(v, &format!("resources.{name}.{key}"), false)?);
        }
        resources.insert(
            name.clone(),
            ResourceV1 {
                type_name: r.kind.type_name().to_string(),
                properties,
                depends_on: r.depends_on.clone(),
                ignore_changes: r.ignore_changes.clone(),
                allow: r.allow.clone(),
                protect: r.protect,
            },
        );
    }
    let mut outputs = BTreeMap::new();
    for (name, v) in &stack.outputs {
        outputs.insert(name.clone(), json(v, &format!("outputs.{name}"), false)?);
    }
    let doc = StackV1 {
        infra_stack: FORMAT,
        name: stack.name.clone(),
        region: stack.region.clone(),
        tags: stack.tags.clone(),
        resources,
        outputs,
    };
    let mut text = serde_json::to_string_pretty(&doc).expect("a declaration serialises");
    text.push('\n');
    Ok(text)
}

fn json(v: &Value, at: &str, in_secret: bool) -> Result<serde_json::Value, SeamError> {
    use serde_json::Value as J;
    Ok(match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Str(s) if in_secret => {
            let _ = s;
            return Err(SeamError::Value {
                at: at.to_string(),
                message: "a secret's content cannot cross to infra: declare it with `ctx.secret(NAME)`".into(),
            });
        }
        Value::Str(s) => J::String(Part::text(&[Part::Lit(s.clone())])),
        Value::List(l) => J::Array(
            l.iter().enumerate().map(|(i, v)| json(v, &format!("{at}[{i}]"), in_secret)).collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), json(v, &format!("{at}.{k}"), in_secret)?)))
                .collect::<Result<_, SeamError>>()?,
        ),
        Value::Ref(r) => J::String(Part::text(&[Part::Ref(r.clone())])),
        Value::Template(parts) => {
            let named = parts.iter().any(|p| matches!(p, Part::Ref(r) if r.resource == "secret"));
            if in_secret && !named {
                return Err(SeamError::Value {
                    at: at.to_string(),
                    message: "a secret's content cannot cross to infra: declare it with `ctx.secret(NAME)`".into(),
                });
            }
            J::String(Part::text(parts))
        }
        Value::Secret(inner) => json(inner.expose(), at, true)?,
        Value::Unknown => {
            return Err(SeamError::Value { at: at.to_string(), message: "a value known only after apply".into() });
        }
    })
}

/// The stack a program declared, from its JSON. Strings are read as in a
/// stack file; `${secret.NAME}` is left for [`resolve_secrets`].
pub fn from_json(text: &str) -> Result<Stack, SeamError> {
    let version: VersionOnly = serde_json::from_str(text).map_err(|e| SeamError::Invalid(e.to_string()))?;
    if version.infra_stack > FORMAT {
        return Err(SeamError::TooNew(version.infra_stack));
    }
    let doc: StackV1 = serde_json::from_str(text).map_err(|e| SeamError::Invalid(e.to_string()))?;
    let mut stack = Stack::new(doc.name);
    stack.region = doc.region;
    stack.tags = doc.tags;
    for (name, r) in doc.resources {
        let kind = Kind::from_type_name(&r.type_name).ok_or_else(|| SeamError::Value {
            at: format!("resources.{name}"),
            message: format!("unknown resource type `{}`", r.type_name),
        })?;
        let mut resource = Resource::new(kind);
        for (key, v) in r.properties {
            resource.props.insert(key.clone(), value(&v, &format!("resources.{name}.{key}"))?);
        }
        resource.depends_on = r.depends_on;
        resource.ignore_changes = r.ignore_changes;
        resource.allow = r.allow;
        resource.protect = r.protect;
        stack.resources.insert(name, resource);
    }
    for (name, v) in doc.outputs {
        let v = value(&v, &format!("outputs.{name}"))?;
        stack.outputs.insert(name, v);
    }
    Ok(stack)
}

fn value(j: &serde_json::Value, at: &str) -> Result<Value, SeamError> {
    use serde_json::Value as J;
    Ok(match j {
        J::String(s) => Value::parse_str(s).map_err(|message| SeamError::Value { at: at.to_string(), message })?,
        J::Array(a) => {
            Value::List(a.iter().enumerate().map(|(i, v)| value(v, &format!("{at}[{i}]"))).collect::<Result<_, _>>()?)
        }
        J::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), value(v, &format!("{at}.{k}"))?)))
                .collect::<Result<_, SeamError>>()?,
        ),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => return Err(SeamError::Value { at: at.to_string(), message: format!("{n} is not a whole number") }),
        },
        other => Value::from_json(other),
    })
}

/// Replaces every `${secret.NAME}` in the stack with the secret's content
/// from `secrets` (a stack file's `[secrets]`), as a secret: a string holding
/// one becomes a secret as a whole.
pub fn resolve_secrets(stack: &mut Stack, secrets: &BTreeMap<String, Value>) -> Result<(), SeamError> {
    for (name, r) in stack.resources.iter_mut() {
        for (key, v) in r.props.iter_mut() {
            resolve(v, secrets, &format!("resources.{name}.{key}"))?;
        }
    }
    for (name, v) in stack.outputs.iter_mut() {
        resolve(v, secrets, &format!("outputs.{name}"))?;
    }
    Ok(())
}

fn resolve(v: &mut Value, secrets: &BTreeMap<String, Value>, at: &str) -> Result<(), SeamError> {
    let content = |r: &Ref| -> Result<String, SeamError> {
        match secrets.get(&r.attr).map(Value::reveal) {
            Some(Value::Str(s)) => Ok(s),
            _ => {
                let known: Vec<&str> = secrets.keys().map(String::as_str).collect();
                Err(SeamError::Value {
                    at: at.to_string(),
                    message: format!(
                        "unknown secret `{}`: declare it in the stack file's [secrets]{}",
                        r.attr,
                        if known.is_empty() { String::new() } else { format!(" (it declares {})", known.join(", ")) }
                    ),
                })
            }
        }
    };
    match v {
        Value::Ref(r) if r.resource == "secret" => *v = Value::secret(content(r)?),
        Value::Template(parts) if parts.iter().any(|p| matches!(p, Part::Ref(r) if r.resource == "secret")) => {
            let mut out: Vec<Part> = Vec::new();
            for part in parts.iter() {
                let part = match part {
                    Part::Ref(r) if r.resource == "secret" => Part::Lit(content(r)?),
                    other => other.clone(),
                };
                Part::push(&mut out, part);
            }
            *v = Value::secret(Part::join(out));
        }
        Value::Secret(inner) => {
            let mut inside = inner.expose().clone();
            resolve(&mut inside, secrets, at)?;
            *v = Value::secret(inside);
        }
        Value::List(l) => {
            for (i, item) in l.iter_mut().enumerate() {
                resolve(item, secrets, &format!("{at}[{i}]"))?;
            }
        }
        Value::Map(m) => {
            for (k, item) in m.iter_mut() {
                resolve(item, secrets, &format!("{at}.{k}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Resource;

    fn stack_with(value: Value) -> Stack {
        let mut resource = Resource::new(Kind::EbEnvironment);
        resource.props.insert("application".into(), value);
        Stack::new("dev").resource("app_env", resource)
    }

    #[test]
    fn a_declaration_crosses_the_seam_and_back_with_its_references_and_literal_dollars() {
        let template = Value::Template(vec![Part::Lit("cost: $${".into()), Part::Ref(Ref::new("app", "name"))]);
        let stack = stack_with(template.clone());
        let back = from_json(&to_json(&stack).unwrap()).unwrap();
        assert_eq!(back.resources["app_env"].props["application"], template);
    }

    #[test]
    fn a_secret_crosses_by_name_and_is_read_on_the_other_side() {
        let named = Value::secret(Value::Template(vec![Part::Lit("p=".into()), Part::Ref(Ref::new("secret", "pw"))]));
        let json = to_json(&stack_with(named)).unwrap();
        assert!(json.contains(r#""application": "p=${secret.pw}""#), "{json}");
        let mut back = from_json(&json).unwrap();
        let secrets = [("pw".to_string(), Value::secret("hunter2"))].into();
        resolve_secrets(&mut back, &secrets).unwrap();
        assert_eq!(back.resources["app_env"].props["application"], Value::secret("p=hunter2"));
        // A secret's content is refused.
        let err = to_json(&stack_with(Value::secret("hunter2"))).unwrap_err().to_string();
        assert!(err.contains("a secret's content cannot cross") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn an_unknown_secret_or_type_is_refused_naming_where() {
        let mut stack = stack_with(Value::Ref(Ref::new("secret", "nope")));
        let err = resolve_secrets(&mut stack, &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.starts_with("resources.app_env.application: unknown secret `nope`"), "{err}");
        let err = from_json(r#"{"infra_stack":1,"name":"dev","resources":{"x":{"type":"ec2.vm"}}}"#).unwrap_err();
        assert_eq!(err.to_string(), "resources.x: unknown resource type `ec2.vm`");
    }
}
