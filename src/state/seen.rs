//! What this machine has already seen of each state: the highest serial per
//! lineage, and whether it was read or written with a MAC. A state older than
//! that is a copy put back (a restored file, an old object version), and is
//! refused unless the user allows a rollback.
//!
//! The record lives outside the project, so that putting an old state file
//! back does not put an old record back with it: one small JSON file per
//! state location (a state file's absolute path, or an `s3://` URL), named by
//! the SHA-256 of the location, in `INFRA_SEEN_DIR`, else
//! `$XDG_STATE_HOME/infra/seen`, else `$HOME/.local/state/infra/seen`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::{StateError, file};

/// The variable that says where the records live (tests, and machines without a home).
pub const SEEN_DIR_VAR: &str = "INFRA_SEEN_DIR";

/// Where the records live, from the environment; `None` when nothing says.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var(SEEN_DIR_VAR)
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("infra/seen")))
        .or_else(|| var("HOME").map(|d| d.join(".local/state/infra/seen")))
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    location: String,
    /// This location's state has been read or written with a MAC.
    #[serde(default)]
    mac: bool,
    /// The highest serial seen, by lineage.
    #[serde(default)]
    lineages: BTreeMap<String, u64>,
}

/// The record of one state location.
#[derive(Debug)]
pub(super) struct Seen {
    dir: PathBuf,
    path: PathBuf,
    location: String,
}

impl Seen {
    pub(super) fn new(dir: &Path, location: &Path) -> Seen {
        let location = location.to_string_lossy().into_owned();
        let digest = sha2::Sha256::digest(location.as_bytes());
        let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Seen { dir: dir.to_path_buf(), path: dir.join(format!("{name}.json")), location }
    }

    fn read(&self) -> Result<Record, StateError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                path: self.path.clone(),
                message: format!(
                    "not a record of the serials seen of {}: {e}; remove it to start afresh",
                    self.location
                ),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Record { location: self.location.clone(), ..Record::default() })
            }
            Err(source) => Err(StateError::Io { path: self.path.clone(), source }),
        }
    }

    /// The highest serial seen of `lineage`.
    pub(super) fn serial(&self, lineage: &str) -> Result<Option<u64>, StateError> {
        Ok(self.read()?.lineages.get(lineage).copied())
    }

    /// Whether this location's state was ever read or written with a MAC.
    pub(super) fn had_mac(&self) -> Result<bool, StateError> {
        Ok(self.read()?.mac)
    }

    /// Records `serial` of `lineage`: as the latest when `exact` (this
    /// command wrote it), else when higher than what is recorded.
    pub(super) fn record(&self, lineage: &str, serial: u64, mac: bool, exact: bool) -> Result<(), StateError> {
        let mut record = self.read()?;
        let before = record.lineages.get(lineage).copied();
        if !exact && before.is_some_and(|b| b >= serial) && (record.mac || !mac) {
            return Ok(());
        }
        let next = if exact { serial } else { before.map_or(serial, |b| b.max(serial)) };
        record.lineages.insert(lineage.to_string(), next);
        record.mac |= mac;
        let text = serde_json::to_string_pretty(&record).expect("a record serialises") + "\n";
        file::write_atomically(&self.dir, &self.path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_serial_read_is_kept_and_a_write_sets_it() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Seen::new(dir.path(), Path::new("/p/state/dev.json"));
        assert_eq!(seen.serial("l").unwrap(), None);
        seen.record("l", 5, false, false).unwrap();
        seen.record("l", 3, false, false).unwrap();
        assert_eq!(seen.serial("l").unwrap(), Some(5));
        seen.record("l", 4, true, true).unwrap();
        assert_eq!(seen.serial("l").unwrap(), Some(4));
        assert!(seen.had_mac().unwrap());
        assert_eq!(Seen::new(dir.path(), Path::new("/q/state/dev.json")).serial("l").unwrap(), None);
    }
}
