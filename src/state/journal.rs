//! The append-only journal beside a state file: `state/<stack>.journal`, or
//! in S3 one object per line (see [`super::s3`]).
//!
//! During an apply, every step appends one line holding only what it changed
//! (the records and pending operations of the resources it touched), so
//! recording a step costs the size of the change rather than of the whole
//! state. The first line names the snapshot the journal extends (its lineage
//! and serial); each later line carries the serial it brings the state to.
//!
//! Loading replays the journal over its snapshot. [`super::Store::save`] folds
//! it into a new snapshot and removes it; a journal whose first line names
//! another snapshot was already folded in (a crash came between the two) and is
//! ignored. A last line without its newline is a write cut short by a crash,
//! and is ignored too: if it journaled operations about to start, they never
//! started; if it recorded results, the pending records before it still stand,
//! and the next refresh finds what those calls made by its tags. Any other line
//! that does not read is corruption, reported with its line number.
//!
//! With a state key, each line carries a `mac`: the MAC of the line chained to
//! the MAC of the line before it, the first line's to the snapshot's. A line
//! added, removed, reordered or changed by anyone without the key breaks the
//! chain, and the journal is refused, naming the line. (Lines cut from the end
//! leave a valid chain: the record of serials seen catches that rollback.)

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::{self, Opener, PendingV1, ResourceV1, Unseal};
use super::{State, StateError, Store};
use crate::secret::{Header, Sealer};

/// What a journal line's MAC is computed as.
const MAC_KIND: &str = "journal";

/// The sealer of a chain of MACs, and the tag of the last document in it.
pub(super) type Chain = Option<(std::sync::Arc<Sealer>, String)>;

/// The journal format version.
const JOURNAL_VERSION: u32 = 1;

/// The first line: which snapshot the journal extends.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderV1 {
    journal: u32,
    stack: String,
    lineage: String,
    base_serial: u64,
    /// The line's MAC, chained to the snapshot's; present when written with a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
}

/// Every later line: the resources it changed (`null` for one removed) and
/// their pending operations (an empty list once none is in flight).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryV1 {
    serial: u64,
    /// How the line's secrets are sealed; present when it holds any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption: Option<Header>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    resources: BTreeMap<String, Option<ResourceV1>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pending: BTreeMap<String, Vec<PendingV1>>,
    /// The line's MAC, chained to the line before; present when written with a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
}

/// An open journal ([`Store::begin`]): one line per [`Journal::record`],
/// folded into the snapshot by [`Journal::finish`].
pub struct Journal<'a> {
    store: &'a Store,
    path: PathBuf,
    sink: Sink,
    /// The chain the next line's MAC extends.
    chain: Chain,
}

/// A line of `T` (with its `mac` member unset) as text with its newline: with
/// a chain, it carries its MAC and the chain moves on to it.
fn line_of<T: Serialize>(value: &mut T, chain: &mut Chain, mac_of: fn(&mut T) -> &mut Option<String>) -> String {
    let text = serde_json::to_string(value).expect("a journal line serialises");
    let Some((sealer, prev)) = chain.as_mut() else { return text + "\n" };
    let body = crate::secret::mac_input(&text).expect("a journal line is JSON");
    let tag = sealer.mac(MAC_KIND, prev, &body).tag;
    *prev = tag.clone();
    *mac_of(value) = Some(tag);
    serde_json::to_string(value).expect("a journal line serialises") + "\n"
}

/// Where the lines go.
enum Sink {
    File(File),
    /// One object per line, under the serial it brings state to.
    S3(std::sync::Arc<super::s3::Remote>),
}

impl<'a> Journal<'a> {
    /// Starts a new, empty journal extending `state`, which must just have been
    /// written as the snapshot (so it has a lineage), with the MAC tag `tag`.
    pub(super) fn start(store: &'a Store, state: &State, tag: Option<String>) -> Result<Self, StateError> {
        let mut header = HeaderV1 {
            journal: JOURNAL_VERSION,
            stack: store.stack.clone(),
            lineage: state.lineage.clone().unwrap_or_default(),
            base_serial: state.serial,
            mac: None,
        };
        let mut chain = match tag {
            Some(tag) => Some((store.sealer()?, tag)),
            None => None,
        };
        let line = line_of(&mut header, &mut chain, |h| &mut h.mac);
        let path = store.journal_path();
        if let Some(remote) = &store.remote {
            remote.append(state.serial, &line)?;
            return Ok(Journal { store, path, sink: Sink::S3(remote.clone()), chain });
        }
        file::write_atomically(&store.dir, &path, line.as_bytes())?;
        let file =
            File::options().append(true).open(&path).map_err(|source| StateError::Io { path: path.clone(), source })?;
        Ok(Journal { store, path, sink: Sink::File(file), chain })
    }

    /// Appends the state of the resources named in `touched` (their records
    /// and pending operations) as the state's next serial, and makes it durable.
    pub fn record(&mut self, state: &mut State, touched: &[&str]) -> Result<(), StateError> {
        state.bump_serial(&self.path)?;
        let records: Vec<_> = touched.iter().map(|name| (*name, state.resources.get(*name))).collect();
        let has_secrets = records
            .iter()
            .flat_map(|(_, r)| r)
            .any(|r| r.props.values().chain(r.outputs.values()).any(crate::model::Value::contains_secret));
        let sealer = if has_secrets { Some(self.store.sealer()?) } else { None };
        let mut pending: BTreeMap<String, Vec<PendingV1>> =
            touched.iter().map(|name| (name.to_string(), Vec::new())).collect();
        for p in &state.pending {
            if let Some(list) = pending.get_mut(&p.resource) {
                list.push(file::pending_to_v1(p));
            }
        }
        let mut entry = EntryV1 {
            serial: state.serial,
            encryption: sealer.as_ref().map(|s| s.header().clone()),
            resources: records
                .into_iter()
                .map(|(name, r)| (name.to_string(), r.map(|r| file::resource_to_v1(r, sealer.as_deref()))))
                .collect(),
            pending,
            mac: None,
        };
        let line = line_of(&mut entry, &mut self.chain, |e| &mut e.mac);
        match &mut self.sink {
            Sink::File(file) => {
                let io = |source| StateError::Io { path: self.path.clone(), source };
                file.write_all(line.as_bytes()).map_err(io)?;
                file.sync_data().map_err(io)?;
            }
            Sink::S3(remote) => remote.append(state.serial, &line)?,
        }
        self.store.note_written(state, self.chain.is_some())
    }

    /// Folds the journal into a new snapshot of `state` and removes it.
    pub fn finish(self, state: &mut State) -> Result<(), StateError> {
        drop(self.sink);
        self.store.save(state)
    }
}

/// Replays the journal at `path` over `state`, the snapshot it may extend;
/// a missing or already folded-in journal changes nothing.
pub(super) fn replay(
    path: &Path,
    stack: &str,
    state: &mut State,
    open: Opener,
    chain: Chain,
) -> Result<(), StateError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(StateError::Io { path: path.to_path_buf(), source }),
    };
    apply_text(path, stack, &text, state, open, chain)
}

/// Replays a journal's text over `state`; `path` only names it in errors.
/// With `chain` (the snapshot's MAC), every line must carry a MAC that
/// extends it, and is checked before it is read any further.
pub(super) fn apply_text(
    path: &Path,
    stack: &str,
    text: &str,
    state: &mut State,
    open: Opener,
    mut chain: Chain,
) -> Result<(), StateError> {
    let mut verify = |n: usize, line: &str, mac: Option<&String>| -> Result<(), StateError> {
        let Some((sealer, prev)) = chain.as_mut() else { return Ok(()) };
        let tampered = |what: &str| StateError::Tampered {
            path: path.to_path_buf(),
            message: format!("line {n} {what}: a line was added, removed, reordered or changed outside infra"),
        };
        let mac = mac.ok_or_else(|| tampered("carries no MAC"))?;
        let body = crate::secret::mac_input(line).ok_or_else(|| tampered("is not JSON"))?;
        if !sealer.verify(MAC_KIND, prev, &body, mac) {
            return Err(tampered("does not match its MAC"));
        }
        *prev = mac.clone();
        Ok(())
    };
    let corrupt = |line: usize, message: String| StateError::Corrupt {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    // Only lines ending in a newline were written whole.
    let mut lines = text.split_inclusive('\n').filter(|l| l.ends_with('\n')).enumerate().map(|(i, l)| (i + 1, l));
    let Some((n, first)) = lines.next() else { return Ok(()) };
    let header: HeaderV1 = match serde_json::from_str(first) {
        Ok(header) => header,
        // In S3, a line of a command that lost a race for a serial (see
        // `super::s3`) can sit where this snapshot's journal would start: it
        // does not extend this snapshot.
        Err(_) if serde_json::from_str::<EntryV1>(first).is_ok() => return Ok(()),
        Err(e) => return Err(corrupt(n, e.to_string())),
    };
    if header.journal > JOURNAL_VERSION {
        return Err(corrupt(n, format!("journal version {} is newer than this infra understands", header.journal)));
    }
    if header.stack != stack {
        return Err(corrupt(n, format!("the journal is for stack `{}`, not `{stack}`", header.stack)));
    }
    if let Some(lineage) = state.lineage.as_deref().filter(|l| *l != header.lineage) {
        return Err(corrupt(
            n,
            format!("the journal extends a state of lineage {}, not this state's ({lineage})", header.lineage),
        ));
    }
    if state.lineage.is_none() || state.serial != header.base_serial {
        return Ok(());
    }
    verify(n, first, header.mac.as_ref())?;
    for (n, line) in lines {
        let entry: EntryV1 = serde_json::from_str(line).map_err(|e| corrupt(n, e.to_string()))?;
        verify(n, line, entry.mac.as_ref())?;
        if state.serial.checked_add(1) != Some(entry.serial) {
            return Err(corrupt(n, format!("serial {} does not follow {}", entry.serial, state.serial)));
        }
        let sealer = match &entry.encryption {
            Some(header) => Some(open(header)?),
            None => None,
        };
        let mut unseal = Unseal { path, sealer: sealer.as_deref() };
        for (name, record) in entry.resources {
            match record {
                Some(r) => {
                    let recorded = unseal.resource(&name, r)?;
                    state.resources.insert(name, recorded);
                }
                None => {
                    state.resources.remove(&name);
                }
            }
        }
        for (name, pending) in entry.pending {
            state.pending.retain(|p| p.resource != name);
            for p in pending {
                if p.resource != name {
                    return Err(corrupt(
                        n,
                        format!("a pending operation on `{}` is listed under `{name}`", p.resource),
                    ));
                }
                state.pending.push(file::pending_from_v1(path, p)?);
            }
        }
        state.serial = entry.serial;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Props, Value};
    use crate::secret::KeySource;
    use crate::state::{Pending, PendingOp, Recorded};

    const PASSWORD: &str = "hunter2-correct-horse";

    fn store(dir: &Path) -> Store {
        Store::with_keys(dir, "dev", Ok(KeySource::key([7; 32])))
    }

    fn volume(id: &str) -> Recorded {
        Recorded {
            kind: Kind::Volume,
            id: id.into(),
            props: [("size".to_string(), Value::Int(30))].into(),
            outputs: Props::new(),
            depends_on: vec![],
            protect: false,
        }
    }

    /// A state with one volume, then an apply that starts creating a second,
    /// finishes it and deletes the first, journaling each step.
    fn steps(store: &Store) -> State {
        let mut state = State::default();
        state.resources.insert("old".into(), volume("vol-1"));
        let mut journal = store.begin(&mut state).unwrap();
        state.pending.push(Pending {
            resource: "data".into(),
            kind: Kind::Volume,
            op: PendingOp::Create,
            id: None,
            client_token: Some("token-1".into()),
        });
        journal.record(&mut state, &["data"]).unwrap();
        state.pending.clear();
        let mut data = volume("vol-2");
        data.props.insert("password".into(), Value::secret(PASSWORD));
        state.resources.insert("data".into(), data);
        journal.record(&mut state, &["data"]).unwrap();
        state.resources.remove("old");
        journal.record(&mut state, &["old"]).unwrap();
        state
    }

    #[test]
    fn a_journal_replays_over_its_snapshot_to_the_state_it_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let state = steps(&store);
        assert!(store.journal_path().exists());
        let loaded = store.load().unwrap();
        assert_eq!(loaded, state);
        assert_eq!(loaded.serial, 4, "the snapshot's serial, then one per journal line");
    }

    #[test]
    fn each_journal_line_holds_only_what_its_step_changed_with_secrets_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        steps(&store);
        let text = std::fs::read_to_string(store.journal_path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(!lines[1].contains("vol-1") && lines[1].contains("token-1"), "{}", lines[1]);
        assert!(lines[3].contains(r#""resources":{"old":null}"#), "{}", lines[3]);
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(lines[2].contains("\"$secret\"") && lines[2].contains("\"encryption\""), "{}", lines[2]);
    }

    #[test]
    fn finishing_folds_the_journal_into_the_state_file_and_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = State::default();
        let mut journal = store.begin(&mut state).unwrap();
        state.resources.insert("data".into(), volume("vol-2"));
        journal.record(&mut state, &["data"]).unwrap();
        journal.finish(&mut state).unwrap();
        assert!(!store.journal_path().exists());
        assert_eq!(store.load().unwrap(), state);
    }

    #[test]
    fn a_last_line_cut_short_by_a_crash_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let state = steps(&store);
        let mut file = File::options().append(true).open(store.journal_path()).unwrap();
        file.write_all(br#"{"serial":5,"resources":{"data":nu"#).unwrap();
        assert_eq!(store.load().unwrap(), state);
    }

    #[test]
    fn a_journal_already_folded_into_the_state_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = steps(&store);
        let journal = std::fs::read(store.journal_path()).unwrap();
        // A crash after the new state file was written, before the journal was removed.
        state.resources.remove("data");
        store.save(&mut state).unwrap();
        std::fs::write(store.journal_path(), journal).unwrap();
        assert_eq!(store.load().unwrap(), state);
    }

    #[test]
    fn a_damaged_line_is_corrupt_and_named_by_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        steps(&store);
        let text = std::fs::read_to_string(store.journal_path()).unwrap();
        std::fs::write(store.journal_path(), text.replacen(r#""serial":3"#, r#""serial":"#, 1)).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("dev.journal: not a valid state file: line 3: expected value"), "{err}");

        // Without a key, lines carry no MAC, and what reads is checked as before.
        let dir = tempfile::tempdir().unwrap();
        let keyless = Store::with_keys(dir.path(), "dev", Ok(KeySource::default()));
        let mut state = State::default();
        let mut journal = keyless.begin(&mut state).unwrap();
        state.resources.insert("data".into(), volume("vol-2"));
        journal.record(&mut state, &["data"]).unwrap();
        let text = std::fs::read_to_string(keyless.journal_path()).unwrap();
        assert!(!text.contains("\"mac\""), "{text}");
        std::fs::write(keyless.journal_path(), text.replacen(r#""serial":2"#, r#""serial":9"#, 1)).unwrap();
        let err = keyless.load().unwrap_err().to_string();
        assert!(err.ends_with("dev.journal: not a valid state file: line 2: serial 9 does not follow 1"), "{err}");
        std::fs::write(keyless.journal_path(), text.replacen("vol-2", "", 1)).unwrap();
        let err = keyless.load().unwrap_err().to_string();
        assert!(err.contains("dev.journal: not a valid state file: resource `data` has no id"), "{err}");
    }

    /// The journal's lines, each with its newline.
    fn lines(store: &Store) -> Vec<String> {
        let text = std::fs::read_to_string(store.journal_path()).unwrap();
        text.split_inclusive('\n').map(str::to_string).collect()
    }

    #[test]
    fn a_line_added_by_a_stranger_is_refused_naming_the_journal_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        steps(&store);
        let before = lines(&store);
        // A stranger repoints `data` at another volume: with no MAC, then with
        // the MAC of another line.
        let forged = r#"{"serial":5,"resources":{"data":{"type":"ec2.volume","id":"vol-evil"}},"pending":{"data":[]}}"#;
        let last_mac = before[3].split(r#""mac":"#).nth(1).unwrap().trim_end().trim_end_matches('}');
        let with_mac = format!(r#"{},"mac":{last_mac}}}"#, &forged[..forged.len() - 1]);
        for line in [forged.to_string(), with_mac] {
            std::fs::write(store.journal_path(), before.concat() + &line + "\n").unwrap();
            let err = store.load().unwrap_err();
            assert!(matches!(err, StateError::Tampered { .. }), "{err}");
            let message = err.to_string();
            assert!(message.contains("dev.journal: line 5 "), "{message}");
            assert!(message.contains("a line was added, removed, reordered or changed outside infra"), "{message}");
        }
    }

    #[test]
    fn a_removed_reordered_or_edited_line_breaks_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        steps(&store);
        let l = lines(&store);
        let cases = [
            ("removed", [&l[0], &l[2], &l[3]].map(String::as_str).concat(), 2),
            ("reordered", [&l[0], &l[2], &l[1], &l[3]].map(String::as_str).concat(), 2),
            ("edited", l.concat().replacen("token-1", "token-2", 1), 2),
            ("header edited", l.concat().replacen(r#""stack":"dev","lineage""#, r#""stack":"dev", "lineage""#, 1), 0),
        ];
        for (what, text, line) in cases {
            std::fs::write(store.journal_path(), &text).unwrap();
            let result = store.load();
            if line == 0 {
                // Spaces are layout, not content: the same line still matches.
                assert!(result.is_ok(), "{what}: {result:?}");
                continue;
            }
            let err = result.unwrap_err().to_string();
            assert!(err.contains(&format!("dev.journal: line {line} ")), "{what}: {err}");
        }
    }

    #[test]
    fn a_serial_at_its_maximum_is_refused_rather_than_wrapped() {
        let max = u64::MAX;
        let snapshot = format!(r#"{{"version":1,"serial":{max},"lineage":"l","stack":"dev"}}"#);
        let journal =
            format!("{{\"journal\":1,\"stack\":\"dev\",\"lineage\":\"l\",\"base_serial\":{max}}}\n{{\"serial\":0}}\n");
        let err = crate::state::parse_with_journal(
            Path::new("dev.json"),
            &snapshot,
            Path::new("dev.journal"),
            &journal,
            "dev",
        )
        .unwrap_err();
        assert!(err.to_string().ends_with(&format!("line 2: serial 0 does not follow {max}")), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let mut state = State { serial: max, ..State::default() };
        let err = store(dir.path()).save(&mut state).unwrap_err();
        assert!(err.to_string().contains("cannot grow any further"), "{err}");
        assert!(!dir.path().join("dev.json").exists());
    }

    #[test]
    fn the_fuzzing_seed_with_a_journal_replays_every_line() {
        let seed = include_str!("../../fuzz/seeds/state_file/with_journal.txt");
        let (snapshot, journal) = seed.split_once('\0').unwrap();
        let state =
            crate::state::parse_with_journal(Path::new("s.json"), snapshot, Path::new("s.journal"), journal, "fuzz")
                .unwrap();
        assert_eq!(state.serial, 6);
        assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["data"]);
        assert!(state.pending.is_empty());
    }
}
