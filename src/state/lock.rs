//! The stack lock: `state/<stack>.lock`, created exclusively, naming its holder.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StateError;

/// Who holds a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub command: String,
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`infra {}` (pid {} on {}, since {}, lock id {})",
            self.command, self.pid, self.host, self.started, self.id
        )
    }
}

impl LockInfo {
    /// Whether the holder ran on this host and is no longer alive.
    pub fn is_stale(&self) -> bool {
        self.host == hostname() && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    pub info: LockInfo,
}

fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

impl Lock {
    pub(super) fn acquire(dir: &Path, path: &Path, stack: &str, command: &str) -> Result<Lock, StateError> {
        let io = |source| StateError::Io { path: path.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io { path: dir.to_path_buf(), source })?;
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid: std::process::id(),
            host: hostname(),
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            command: command.to_string(),
        };
        // The holder is written to a private temporary file first and then
        // hard-linked into place: the link fails if a lock exists, and a lock
        // never exists without its holder (even if this process is killed).
        let mut tmp = tempfile::Builder::new()
            .prefix(".lock.")
            .permissions(super::file::private())
            .tempfile_in(dir)
            .map_err(|source| StateError::Io { path: dir.to_path_buf(), source })?;
        let text = serde_json::to_string_pretty(&info).expect("lock info serialises");
        tmp.write_all(text.as_bytes()).and_then(|_| tmp.as_file().sync_all()).map_err(io)?;
        match std::fs::hard_link(tmp.path(), path) {
            Ok(()) => Ok(Lock { path: path.to_path_buf(), info }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = read(path)?;
                let stale = holder.is_stale();
                Err(StateError::Locked { stack: stack.to_string(), holder: Box::new(holder), stale })
            }
            Err(e) => Err(io(e)),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a lock file's holder.
pub fn read(path: &Path) -> Result<LockInfo, StateError> {
    let text = std::fs::read_to_string(path).map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text)
        .map_err(|e| StateError::Corrupt { path: path.to_path_buf(), message: format!("lock file: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_a_released_one_can_be_retaken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.lock");
        let first = Lock::acquire(dir.path(), &path, "dev", "apply").unwrap();
        let err = Lock::acquire(dir.path(), &path, "dev", "destroy").unwrap_err();
        match err {
            StateError::Locked { holder, stale, .. } => {
                assert_eq!(*holder, first.info);
                assert!(!stale, "the holder is this live process");
            }
            other => panic!("expected Locked, got {other}"),
        }
        drop(first);
        assert!(Lock::acquire(dir.path(), &path, "dev", "destroy").is_ok());
    }
}
