//! The on-disk JSON format of a state file, and its atomic write.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Pending, PendingOp, Recorded, State, StateError, VERSION};
use crate::model::{Kind, Props, Value};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    version: u32,
    serial: u64,
    #[serde(default)]
    lineage: Option<String>,
    stack: String,
    #[serde(default)]
    resources: BTreeMap<String, ResourceV1>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<PendingV1>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceV1 {
    #[serde(rename = "type")]
    type_name: String,
    id: String,
    #[serde(default)]
    props: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    outputs: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingV1 {
    resource: String,
    #[serde(rename = "type")]
    type_name: String,
    op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_token: Option<String>,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

pub(super) fn load(path: &Path) -> Result<State, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|e| StateError::Corrupt {
                path: path.to_path_buf(),
                message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
            })?;
            parse(path, &text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(source) => Err(StateError::Io { path: path.to_path_buf(), source }),
    }
}

pub(super) fn parse(path: &Path, text: &str) -> Result<State, StateError> {
    let corrupt = |message: String| StateError::Corrupt { path: path.to_path_buf(), message };
    let version: VersionOnly = serde_json::from_str(text)
        .map_err(|e| corrupt(format!("{e}")))?;
    if version.version > VERSION {
        return Err(StateError::TooNew { path: path.to_path_buf(), found: version.version });
    }
    let file: FileV1 = serde_json::from_str(text).map_err(|e| corrupt(format!("{e}")))?;
    let kind_of = |name: &str, type_name: &str| {
        Kind::from_type_name(type_name)
            .ok_or_else(|| corrupt(format!("resource `{name}` has unknown type `{type_name}`")))
    };
    let mut resources = BTreeMap::new();
    for (name, r) in file.resources {
        if r.id.is_empty() {
            return Err(corrupt(format!("resource `{name}` has no id")));
        }
        resources.insert(
            name.clone(),
            Recorded {
                kind: kind_of(&name, &r.type_name)?,
                id: r.id,
                props: to_props(r.props),
                outputs: to_props(r.outputs),
                depends_on: r.depends_on,
            },
        );
    }
    let mut pending = Vec::new();
    for p in file.pending {
        let op = match p.op.as_str() {
            "create" => PendingOp::Create,
            "update" => PendingOp::Update,
            "delete" => PendingOp::Delete,
            other => return Err(corrupt(format!("pending operation `{other}` on `{}` is unknown", p.resource))),
        };
        pending.push(Pending {
            kind: kind_of(&p.resource, &p.type_name)?,
            resource: p.resource,
            op,
            id: p.id,
            client_token: p.client_token,
        });
    }
    Ok(State { serial: file.serial, lineage: file.lineage, resources, pending })
}

fn to_props(m: serde_json::Map<String, serde_json::Value>) -> Props {
    m.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
}

fn to_json(p: &Props) -> serde_json::Map<String, serde_json::Value> {
    p.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()
}

fn render(stack: &str, state: &State) -> String {
    let file = FileV1 {
        version: VERSION,
        serial: state.serial,
        lineage: state.lineage.clone(),
        stack: stack.to_string(),
        resources: state
            .resources
            .iter()
            .map(|(name, r)| {
                (
                    name.clone(),
                    ResourceV1 {
                        type_name: r.kind.type_name().to_string(),
                        id: r.id.clone(),
                        props: to_json(&r.props),
                        outputs: to_json(&r.outputs),
                        depends_on: r.depends_on.clone(),
                    },
                )
            })
            .collect(),
        pending: state
            .pending
            .iter()
            .map(|p| PendingV1 {
                resource: p.resource.clone(),
                type_name: p.kind.type_name().to_string(),
                op: match p.op {
                    PendingOp::Create => "create",
                    PendingOp::Update => "update",
                    PendingOp::Delete => "delete",
                }
                .to_string(),
                id: p.id.clone(),
                client_token: p.client_token.clone(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&file).expect("state serialises");
    text.push('\n');
    text
}

/// Writes to a temporary file beside the target, fsyncs it, renames it over the
/// target and fsyncs the directory: a reader sees the old file or the new one.
pub(super) fn save(dir: &Path, path: &Path, stack: &str, state: &State) -> Result<(), StateError> {
    let io = |p: &Path| {
        let p: PathBuf = p.to_path_buf();
        move |source| StateError::Io { path: p, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{stack}.json."))
        .permissions(private())
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(render(stack, state).as_bytes()).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| StateError::Io { path: path.to_path_buf(), source: e.error })?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok(())
}

/// Read and write for the owner only.
pub(super) fn private() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut resources = BTreeMap::new();
        resources.insert(
            "web_sg".to_string(),
            Recorded {
                kind: Kind::SecurityGroup,
                id: "sg-1".into(),
                props: [("description".to_string(), Value::from("x"))].into(),
                outputs: [("id".to_string(), Value::from("sg-1"))].into(),
                depends_on: vec![],
            },
        );
        State { serial: 3, lineage: Some("l-1".into()), resources, pending: vec![] }
    }

    #[test]
    fn a_saved_state_loads_back_equal() {
        let text = render("dev", &sample());
        assert_eq!(parse(Path::new("s.json"), &text).unwrap(), sample());
    }

    #[test]
    fn a_truncated_file_is_reported_as_corrupt_with_its_path() {
        let text = render("dev", &sample());
        let err = parse(Path::new("state/dev.json"), &text[..text.len() / 2]).unwrap_err();
        assert!(err.to_string().starts_with("state/dev.json: not a valid state file"), "{err}");
    }

    #[test]
    fn a_newer_version_is_refused() {
        let err = parse(Path::new("s.json"), r#"{"version": 99, "serial": 1, "stack": "dev"}"#).unwrap_err();
        assert!(matches!(err, StateError::TooNew { found: 99, .. }), "{err}");
    }

    #[test]
    fn a_resource_without_an_id_is_refused() {
        let text = r#"{"version":1,"serial":1,"stack":"dev","resources":{"a":{"type":"ec2.volume","id":""}}}"#;
        let err = parse(Path::new("s.json"), text).unwrap_err();
        assert!(err.to_string().contains("resource `a` has no id"), "{err}");
    }

    #[test]
    fn save_writes_a_private_file_atomically() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");
        save(dir.path(), &path, "dev", &sample()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&path).unwrap(), sample());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }
}
