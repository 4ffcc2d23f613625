//! The on-disk JSON format of a state file, and its atomic write.
//!
//! A secret value is written as `{"$secret": "<base64 of nonce and ciphertext>"}`
//! in its place; a file holding any has an `encryption` header naming its key
//! (see [`crate::secret`]).
//!
//! With a state key, the file also carries a `mac` member: the MAC of the
//! whole document (stack, lineage, serial, every resource and pending
//! operation; see [`crate::secret::mac_input`]) and the header that finds its
//! key. A file whose MAC does not match is refused as changed outside infra.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Pending, PendingOp, Recorded, State, StateError, VERSION};
use crate::model::{Kind, Props, Value};
use crate::secret::{Header, Mac, Sealer};

/// What a state file's MAC is computed as (no other document's MAC passes for it).
pub(super) const MAC_KIND: &str = "state";

/// The key of the object a sealed secret is written as.
const SEALED: &str = "$secret";

/// Finds the sealer of a file's header.
pub(super) type Opener<'a> = &'a dyn Fn(&Header) -> Result<std::sync::Arc<Sealer>, StateError>;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    version: u32,
    serial: u64,
    #[serde(default)]
    lineage: Option<String>,
    stack: String,
    /// How secret values are sealed; present when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption: Option<Header>,
    #[serde(default)]
    resources: BTreeMap<String, ResourceV1>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<PendingV1>,
    /// The MAC of the rest of the document; present when written with a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<Mac>,
}

/// A state file read and, when it carries a MAC, verified.
#[derive(Debug)]
pub(super) struct Loaded {
    pub(super) state: State,
    /// The sealer its MAC was checked with, and the MAC's tag (which the
    /// first line of a journal extending it is chained to); `None` for a
    /// file without a MAC.
    pub(super) mac: Option<(std::sync::Arc<Sealer>, String)>,
}

/// The text of a state file, and its MAC's tag when it has one.
pub(super) struct Rendered {
    pub(super) text: String,
    pub(super) tag: Option<String>,
}

/// Checks a state file's MAC (of `kind`, chained to `prev`) over `text`,
/// with the sealer `open` finds for its key; returns that sealer. A MAC that
/// cannot be checked (no key, another key) or does not match is
/// [`StateError::Tampered`], naming `path`.
pub(super) fn verify(
    path: &Path,
    open: Opener,
    mac: &Mac,
    kind: &str,
    prev: &str,
    text: &str,
) -> Result<std::sync::Arc<Sealer>, StateError> {
    let tampered = |message: String| StateError::Tampered { path: path.to_path_buf(), message };
    let sealer = open(&mac.key).map_err(|e| match e {
        StateError::Secret { source: crate::secret::SecretError::Missing(var), .. } => {
            tampered(format!("it carries a MAC under a key from {var}, which is not set: set {var} to read it"))
        }
        StateError::Secret { source: crate::secret::SecretError::WrongKey(var), .. } => {
            tampered(format!("its MAC was made with another key than {var}"))
        }
        StateError::Secret { source, .. } => tampered(format!("its MAC cannot be checked: {source}")),
        other => other,
    })?;
    let body = crate::secret::mac_input(text).ok_or_else(|| tampered("it is not JSON".into()))?;
    if !sealer.verify(kind, prev, &body, &mac.tag) {
        return Err(tampered("its MAC does not match: it was changed outside infra".into()));
    }
    Ok(sealer)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResourceV1 {
    #[serde(rename = "type")]
    type_name: String,
    id: String,
    #[serde(default)]
    props: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    outputs: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
    /// Written only when true, so state without protection reads as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    protect: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PendingV1 {
    pub(super) resource: String,
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

pub(super) fn load(path: &Path, open: Opener) -> Result<Loaded, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|e| StateError::Corrupt {
                path: path.to_path_buf(),
                message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
            })?;
            parse(path, &text, open)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Loaded { state: State::default(), mac: None }),
        Err(source) => Err(StateError::Io { path: path.to_path_buf(), source }),
    }
}

/// Parses a state file, checking its MAC first when it carries one.
pub(super) fn parse(path: &Path, text: &str, open: Opener) -> Result<Loaded, StateError> {
    let corrupt = |message: String| StateError::Corrupt { path: path.to_path_buf(), message };
    let version: VersionOnly = serde_json::from_str(text).map_err(|e| corrupt(format!("{e}")))?;
    if version.version > VERSION {
        return Err(StateError::TooNew { path: path.to_path_buf(), found: version.version });
    }
    let file: FileV1 = serde_json::from_str(text).map_err(|e| corrupt(format!("{e}")))?;
    let mac = match &file.mac {
        Some(mac) => Some((verify(path, open, mac, MAC_KIND, "", text)?, mac.tag.clone())),
        None => None,
    };
    let sealer = match &file.encryption {
        Some(header) => Some(open(header)?),
        None => None,
    };
    let mut unseal = Unseal { path, sealer: sealer.as_deref() };
    let mut resources = BTreeMap::new();
    for (name, r) in file.resources {
        let recorded = unseal.resource(&name, r)?;
        resources.insert(name, recorded);
    }
    let pending = file.pending.into_iter().map(|p| pending_from_v1(path, p)).collect::<Result<_, _>>()?;
    Ok(Loaded { state: State { serial: file.serial, lineage: file.lineage, resources, pending }, mac })
}

fn kind_of(path: &Path, name: &str, type_name: &str) -> Result<Kind, StateError> {
    Kind::from_type_name(type_name).ok_or_else(|| StateError::Corrupt {
        path: path.to_path_buf(),
        message: format!("resource `{name}` has unknown type `{type_name}`"),
    })
}

pub(super) fn pending_from_v1(path: &Path, p: PendingV1) -> Result<Pending, StateError> {
    let op = match p.op.as_str() {
        "create" => PendingOp::Create,
        "update" => PendingOp::Update,
        "delete" => PendingOp::Delete,
        other => {
            return Err(StateError::Corrupt {
                path: path.to_path_buf(),
                message: format!("pending operation `{other}` on `{}` is unknown", p.resource),
            });
        }
    };
    Ok(Pending {
        kind: kind_of(path, &p.resource, &p.type_name)?,
        resource: p.resource,
        op,
        id: p.id,
        client_token: p.client_token,
    })
}

pub(super) fn pending_to_v1(p: &Pending) -> PendingV1 {
    PendingV1 {
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
    }
}

/// A recorded resource in the file's form, its secrets sealed.
pub(super) fn resource_to_v1(r: &Recorded, sealer: Option<&Sealer>) -> ResourceV1 {
    ResourceV1 {
        type_name: r.kind.type_name().to_string(),
        id: r.id.clone(),
        props: to_json(&r.props, sealer),
        outputs: to_json(&r.outputs, sealer),
        depends_on: r.depends_on.clone(),
        protect: r.protect,
    }
}

/// Reads values, opening sealed secrets with the file's sealer.
pub(super) struct Unseal<'a> {
    pub(super) path: &'a Path,
    pub(super) sealer: Option<&'a Sealer>,
}

impl Unseal<'_> {
    /// A resource read back from the file's form.
    pub(super) fn resource(&mut self, name: &str, r: ResourceV1) -> Result<Recorded, StateError> {
        if r.id.is_empty() {
            return Err(StateError::Corrupt {
                path: self.path.to_path_buf(),
                message: format!("resource `{name}` has no id"),
            });
        }
        let at = format!("resources.{name}");
        Ok(Recorded {
            kind: kind_of(self.path, name, &r.type_name)?,
            id: r.id,
            props: self.props(&r.props, &format!("{at}.props"))?,
            outputs: self.props(&r.outputs, &format!("{at}.outputs"))?,
            depends_on: r.depends_on,
            protect: r.protect,
        })
    }

    fn props(&mut self, m: &serde_json::Map<String, serde_json::Value>, at: &str) -> Result<Props, StateError> {
        m.iter().map(|(k, v)| Ok((k.clone(), self.value(v, &format!("{at}.{k}"))?))).collect()
    }

    fn value(&mut self, j: &serde_json::Value, at: &str) -> Result<Value, StateError> {
        use serde_json::Value as J;
        let err = |source| StateError::Secret { path: self.path.to_path_buf(), source };
        Ok(match j {
            J::Object(o) if o.len() == 1 && o.contains_key(SEALED) => {
                let (Some(sealer), Some(sealed)) = (self.sealer, o[SEALED].as_str()) else {
                    return Err(StateError::Corrupt {
                        path: self.path.to_path_buf(),
                        message: format!("{at} holds an encrypted secret, but the file has no `encryption` header"),
                    });
                };
                Value::secret(sealer.unseal_value(sealed, at).map_err(err)?)
            }
            J::Array(a) => Value::List(
                a.iter().enumerate().map(|(i, v)| self.value(v, &format!("{at}[{i}]"))).collect::<Result<_, _>>()?,
            ),
            J::Object(o) => Value::Map(self.props(o, at)?),
            other => Value::from_json(other),
        })
    }
}

/// A value as JSON, each secret sealed in its place.
fn sealed_json(v: &Value, sealer: Option<&Sealer>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Secret(s) => {
            let sealer = sealer.expect("a state holding secrets is written with a sealer");
            J::Object([(SEALED.to_string(), J::String(sealer.seal_value(s.expose())))].into_iter().collect())
        }
        Value::List(l) => J::Array(l.iter().map(|v| sealed_json(v, sealer)).collect()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), sealed_json(v, sealer))).collect()),
        other => other.to_json(),
    }
}

fn to_json(p: &Props, sealer: Option<&Sealer>) -> serde_json::Map<String, serde_json::Value> {
    p.iter().map(|(k, v)| (k.clone(), sealed_json(v, sealer))).collect()
}

/// The file's text; `sealer` is needed when the state holds secrets, and
/// when given, the file carries a MAC under its key.
pub(super) fn render(stack: &str, state: &State, sealer: Option<&Sealer>) -> Rendered {
    let mut file = FileV1 {
        version: VERSION,
        serial: state.serial,
        lineage: state.lineage.clone(),
        stack: stack.to_string(),
        encryption: sealer.filter(|_| state.has_secrets()).map(|s| s.header().clone()),
        resources: state.resources.iter().map(|(name, r)| (name.clone(), resource_to_v1(r, sealer))).collect(),
        pending: state.pending.iter().map(pending_to_v1).collect(),
        mac: None,
    };
    let text = |file: &FileV1| serde_json::to_string_pretty(file).expect("state serialises") + "\n";
    let Some(sealer) = sealer else { return Rendered { text: text(&file), tag: None } };
    let body = crate::secret::mac_input(&text(&file)).expect("a rendered state is JSON");
    let mac = sealer.mac(MAC_KIND, "", &body);
    let tag = Some(mac.tag.clone());
    file.mac = Some(mac);
    Rendered { text: text(&file), tag }
}

/// Writes the state file atomically (see [`write_atomically`]).
pub(super) fn save(
    dir: &Path,
    path: &Path,
    stack: &str,
    state: &State,
    sealer: Option<&Sealer>,
) -> Result<Option<String>, StateError> {
    let rendered = render(stack, state, sealer);
    write_atomically(dir, path, rendered.text.as_bytes())?;
    Ok(rendered.tag)
}

/// Writes to a private temporary file beside `path`, fsyncs it, renames it over
/// `path` and fsyncs the directory: a reader sees the old file or the new one.
pub(super) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |p: &Path| {
        let p: PathBuf = p.to_path_buf();
        move |source| StateError::Io { path: p, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .permissions(private())
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| StateError::Io { path: path.to_path_buf(), source: e.error })?;
    sync_dir(dir)
}

/// Makes a rename or removal in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StateError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StateError::Io { path: dir.to_path_buf(), source })
}

/// Read and write for the owner only.
pub(super) fn private() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{KeySource, SecretError};

    fn no_key(_: &Header) -> Result<std::sync::Arc<Sealer>, StateError> {
        panic!("no secrets here")
    }

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
                protect: false,
            },
        );
        State { serial: 3, lineage: Some("l-1".into()), resources, pending: vec![] }
    }

    #[test]
    fn a_saved_state_loads_back_equal() {
        let text = render("dev", &sample(), None).text;
        assert_eq!(parse(Path::new("s.json"), &text, &no_key).unwrap().state, sample());
    }

    #[test]
    fn a_truncated_file_is_reported_as_corrupt_with_its_path() {
        let text = render("dev", &sample(), None).text;
        let err = parse(Path::new("state/dev.json"), &text[..text.len() / 2], &no_key).unwrap_err();
        assert!(err.to_string().starts_with("state/dev.json: not a valid state file"), "{err}");
    }

    #[test]
    fn a_newer_version_is_refused() {
        let err = parse(Path::new("s.json"), r#"{"version": 99, "serial": 1, "stack": "dev"}"#, &no_key)
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(err, StateError::TooNew { found: 99, .. }), "{err}");
    }

    #[test]
    fn a_resource_without_an_id_is_refused() {
        let text = r#"{"version":1,"serial":1,"stack":"dev","resources":{"a":{"type":"ec2.volume","id":""}}}"#;
        let err = parse(Path::new("s.json"), text, &no_key).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("resource `a` has no id"), "{err}");
    }

    #[test]
    fn save_writes_a_private_file_atomically() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");
        save(dir.path(), &path, "dev", &sample(), None).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&path, &no_key).unwrap().state, sample());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    const PASSWORD: &str = "hunter2-correct-horse";

    fn with_secret() -> State {
        let mut state = sample();
        let setting = crate::model::map([
            ("namespace", Value::from("aws:elasticbeanstalk:application:environment")),
            ("name", Value::from("ELASTIC_PASSWORD")),
            ("value", Value::secret(PASSWORD)),
        ]);
        state.resources.get_mut("web_sg").unwrap().props.insert("option_settings".into(), Value::List(vec![setting]));
        state
    }

    fn opener(source: KeySource) -> impl Fn(&Header) -> Result<std::sync::Arc<Sealer>, StateError> {
        move |h| {
            Sealer::open(&source, h)
                .map(std::sync::Arc::new)
                .map_err(|source| StateError::Secret { path: "s.json".into(), source })
        }
    }

    #[test]
    fn a_secret_is_written_only_encrypted_and_reads_back_as_a_secret() {
        let sealer = Sealer::create(&KeySource::key([3; 32])).unwrap();
        let text = render("dev", &with_secret(), Some(&sealer)).text;
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(text.contains("\"$secret\": "), "{text}");
        assert!(text.contains("\"encryption\": {"), "{text}");
        let back = parse(Path::new("s.json"), &text, &opener(KeySource::key([3; 32]))).unwrap().state;
        assert_eq!(back, with_secret());
        // Without secrets, no header.
        assert!(!render("dev", &sample(), Some(&sealer)).text.contains("encryption"));
    }

    #[test]
    fn a_wrong_key_fails_to_read_state_with_a_clear_message() {
        let sealer = Sealer::create(&KeySource::key([3; 32])).unwrap();
        let text = without_mac(&render("dev", &with_secret(), Some(&sealer)).text);
        let err = parse(Path::new("s.json"), &text, &opener(KeySource::key([4; 32]))).map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "s.json: INFRA_STATE_KEY is not the key its secrets were encrypted with");
        let err = parse(Path::new("s.json"), &text, &opener(KeySource::default())).map(|_| ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.json: its secrets are encrypted with a key from INFRA_STATE_KEY, which is not set"
        );
        // With its MAC, the MAC is what cannot be checked.
        let text = render("dev", &with_secret(), Some(&sealer)).text;
        let err = parse(Path::new("s.json"), &text, &opener(KeySource::key([4; 32]))).map(|_| ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.json: its MAC was made with another key than INFRA_STATE_KEY; nothing was read from it, nor written"
        );
        let err = parse(Path::new("s.json"), &text, &opener(KeySource::default())).map(|_| ()).unwrap_err();
        assert!(
            err.to_string().starts_with("s.json: it carries a MAC under a key from INFRA_STATE_KEY, which is not set"),
            "{err}"
        );
    }

    #[test]
    fn an_altered_secret_in_state_is_detected_and_named_by_its_place() {
        let sealer = Sealer::create(&KeySource::key([3; 32])).unwrap();
        // Without the MAC that would refuse it first.
        let text = without_mac(&render("dev", &with_secret(), Some(&sealer)).text);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sealed = json["resources"]["web_sg"]["props"]["option_settings"][0]["value"]["$secret"].as_str().unwrap();
        // One base64 digit of the ciphertext changed.
        let flipped = if &sealed[40..41] == "A" { "B" } else { "A" };
        let text = text.replace(sealed, &format!("{}{flipped}{}", &sealed[..40], &sealed[41..]));
        let err = parse(Path::new("s.json"), &text, &opener(KeySource::key([3; 32]))).map(|_| ()).unwrap_err();
        assert!(matches!(err, StateError::Secret { source: SecretError::Damaged(_), .. }), "{err}");
        assert!(err.to_string().contains("resources.web_sg.props.option_settings[0].value"), "{err}");
    }

    #[test]
    fn a_sealed_secret_without_a_header_is_corrupt() {
        let text = r#"{"version":1,"serial":1,"stack":"dev","resources":{"a":{"type":"ec2.volume","id":"v","props":{"p":{"$secret":"AAAA"}}}}}"#;
        let err = parse(Path::new("s.json"), text, &no_key).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("resources.a.props.p holds an encrypted secret"), "{err}");
    }

    /// A document's text with its `mac` member removed.
    fn without_mac(text: &str) -> String {
        let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
        doc.as_object_mut().unwrap().remove("mac");
        serde_json::to_string_pretty(&doc).unwrap()
    }

    #[test]
    fn every_changed_byte_of_a_state_with_a_mac_is_refused_and_layout_is_not_content() {
        let sealer = Sealer::create(&KeySource::key([3; 32])).unwrap();
        let open = opener(KeySource::key([3; 32]));
        let rendered = render("dev", &with_secret(), Some(&sealer));
        let text = rendered.text;
        let loaded = parse(Path::new("s.json"), &text, &open).unwrap();
        assert_eq!(loaded.state, with_secret());
        assert_eq!(loaded.mac.map(|(_, tag)| tag), rendered.tag);
        // Stack, lineage, serial, an id, protection: each bound by the MAC.
        for (from, to) in [
            ("\"stack\": \"dev\"", "\"stack\": \"prod\""),
            ("\"lineage\": \"l-1\"", "\"lineage\": \"l-2\""),
            ("\"serial\": 3", "\"serial\": 4"),
            ("\"id\": \"sg-1\"", "\"id\": \"sg-2\""),
            ("\"outputs\": {", "\"protect\": true, \"outputs\": {"),
        ] {
            let edited = text.replacen(from, to, 1);
            assert_ne!(edited, text, "{from}");
            let err = parse(Path::new("state/dev.json"), &edited, &open).map(|_| ()).unwrap_err();
            assert_eq!(
                err.to_string(),
                "state/dev.json: its MAC does not match: it was changed outside infra; nothing was read from it, nor written",
                "{from} -> {to}"
            );
        }
        let relaid = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
        assert_eq!(parse(Path::new("s.json"), &relaid, &open).unwrap().state, with_secret());
    }
}
