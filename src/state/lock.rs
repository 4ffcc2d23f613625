//! The stack lock. Locally `state/<stack>.lock`, held as an OS lock (`flock`)
//! on the open file for as long as the command runs, the file naming its
//! holder; with an S3 backend, a lock object (see [`super::s3`]) held under a
//! lease, which a thread of this module renews while the lock is held (every
//! third of the lease) and stops renewing when it is dropped. A killed holder's
//! lease lapses, and the next command takes the lock over by itself.
//!
//! The kernel releases the OS lock when its holder exits, however it exits: a
//! killed `infra apply` leaves the file behind (naming a holder that is gone)
//! but no lock, so the next command takes it without a manual step. A second
//! command while the holder lives fails at once, naming it.
//!
//! A finished holder removes the file while still holding the lock. A command
//! that opened the file before that removal and locked it after would hold a
//! lock on a file no longer in place: after locking, each command checks that
//! the path still names the file it locked, and starts again otherwise.

use std::fmt;
use std::fs::{File, TryLockError};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StateError;
use super::s3::Remote;

/// Who holds a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    /// The user the holder runs as; empty in locks written before it was kept.
    #[serde(default)]
    pub user: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub command: String,
    /// The S3 lock's lease, in seconds: how long it lasts after each renewal.
    /// Absent in a local lock, and in S3 locks of an older infra (which are
    /// never taken over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_secs: Option<u64>,
    /// When the S3 lock was last renewed (RFC 3339, UTC, the holder's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed: Option<String>,
    /// How many times the S3 lock was renewed (each renewal changes its ETag).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub renewals: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl LockInfo {
    /// A new holder: this process, now, running `command`.
    pub(super) fn new(command: &str) -> Self {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid: std::process::id(),
            host: hostname(),
            user: std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default(),
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            command: command.to_string(),
            lease_secs: None,
            renewed: None,
            renewals: 0,
        }
    }

    /// The lease an S3 lock is held under; `None` for one that has none.
    pub fn lease(&self) -> Option<Duration> {
        self.lease_secs.filter(|s| *s > 0).map(Duration::from_secs)
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = if self.user.is_empty() { String::new() } else { format!(" as {}", self.user) };
        write!(
            f,
            "`infra {}` (pid {} on {}{user}, since {}, lock id {})",
            self.command, self.pid, self.host, self.started, self.id
        )
    }
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock {
    held: Held,
    pub info: LockInfo,
}

#[derive(Debug)]
enum Held {
    File {
        path: PathBuf,
        /// Holds the OS lock while open.
        file: File,
    },
    S3 {
        remote: std::sync::Arc<Remote>,
        stack: String,
        /// Renews the lease while the lock is held.
        renewer: Option<Renewer>,
    },
}

/// The thread that renews an S3 lock's lease; it stops when `stop` is dropped.
#[derive(Debug)]
struct Renewer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Renewer {
    /// Renews `remote`'s lock every third of its lease until stopped, or
    /// until a renewal finds the lock taken over (then every later write of
    /// state fails, see [`StateError::LockLost`]). A renewal that fails
    /// otherwise is tried again at the next turn.
    fn start(remote: std::sync::Arc<Remote>, id: String) -> Option<Renewer> {
        let every = remote.renewal_interval()?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("infra-lock-lease".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    match remote.renew(&id) {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(e @ StateError::LockLost { .. }) => {
                            eprintln!("error: {e}");
                            return;
                        }
                        Err(e) => eprintln!("warning: renewing the lock failed, trying again: {e}"),
                    }
                }
            })
            .ok()?;
        Some(Renewer { stop, thread })
    }

    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// How long a command that meets the lock waits for the holder's details to
/// be written (microseconds after it took the lock) before saying it has none.
const DETAILS_WAIT: Duration = Duration::from_secs(1);

impl Lock {
    pub(super) fn acquire(dir: &Path, path: &Path, stack: &str, command: &str) -> Result<Lock, StateError> {
        let io = |source| StateError::Io { path: path.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io { path: dir.to_path_buf(), source })?;
        let file = loop {
            let file = open(path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(locked(path, stack)),
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
            if same_file(&file, path).map_err(io)? {
                break file;
            }
            // The holder before us removed the file as we opened it: start again.
        };
        let info = LockInfo::new(command);
        let text = serde_json::to_string_pretty(&info).expect("lock info serialises");
        // A holder that was killed left its details: ours replace them.
        let mut writer = &file;
        file.set_len(0)
            .and_then(|_| writer.rewind())
            .and_then(|_| writer.write_all(text.as_bytes()))
            .and_then(|_| file.sync_all())
            .map_err(io)?;
        Ok(Lock { held: Held::File { path: path.to_path_buf(), file }, info })
    }

    /// What releases this lock when the process is about to exit without
    /// dropping it (a second Ctrl-C): nothing for a local lock, which the
    /// kernel releases; for an S3 lock, deleting its object.
    pub fn releaser(&self) -> Box<dyn FnOnce() + Send> {
        match &self.held {
            Held::File { .. } => Box::new(|| {}),
            Held::S3 { remote, stack, .. } => {
                let (remote, stack, id) = (remote.clone(), stack.clone(), self.info.id.clone());
                Box::new(move || remote.release(&stack, &id))
            }
        }
    }

    /// Takes the S3 backend's lock object for `command`, waiting for
    /// another holder to release it or for its lease to lapse (see
    /// [`Remote::lock`]; `notify` is told whom it waits for), and renews its
    /// lease until the lock is dropped.
    pub(super) fn acquire_remote(
        remote: std::sync::Arc<Remote>,
        stack: &str,
        command: &str,
        notify: &(dyn Fn(&str) + Sync),
    ) -> Result<Lock, StateError> {
        let info = remote.lock(stack, &LockInfo::new(command), notify)?;
        let renewer = Renewer::start(remote.clone(), info.id.clone());
        Ok(Lock { held: Held::S3 { remote, stack: stack.to_string(), renewer }, info })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        match &mut self.held {
            Held::File { path, file } => {
                // Removed while still held (see the module documentation); the
                // OS lock goes with the file handle.
                let _ = std::fs::remove_file(path);
                let _ = file.unlock();
            }
            Held::S3 { remote, stack, renewer } => {
                if let Some(renewer) = renewer.take() {
                    renewer.stop();
                }
                remote.release(stack, &self.info.id)
            }
        }
    }
}

/// The lock file, created if missing (private, like state). A symbolic link
/// in its place is not followed (`O_NOFOLLOW`): the file is truncated and
/// written, which through a link would clobber whatever it points to.
fn open(path: &Path) -> Result<File, StateError> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    opened.map_err(|e| not_a_link(path, e))
}

/// The error for opening the lock file at `path`: [`StateError::LockIsLink`]
/// when `O_NOFOLLOW` met a link (`ELOOP`).
fn not_a_link(path: &Path, source: std::io::Error) -> StateError {
    if source.raw_os_error() == Some(libc::ELOOP) {
        StateError::LockIsLink { path: path.to_path_buf() }
    } else {
        StateError::Io { path: path.to_path_buf(), source }
    }
}

/// Whether `path` still names the file `file` has open.
fn same_file(file: &File, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match std::fs::symlink_metadata(path) {
        Ok(named) => Ok(named.dev() == open.dev() && named.ino() == open.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The error for a lock another command holds, naming it once its details
/// are written.
fn locked(path: &Path, stack: &str) -> StateError {
    let started = std::time::Instant::now();
    loop {
        match read(path) {
            Ok(holder) => return StateError::Locked { stack: stack.to_string(), holder: Box::new(holder) },
            Err(_) if started.elapsed() < DETAILS_WAIT => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => return StateError::LockedUnnamed { stack: stack.to_string(), path: path.to_path_buf() },
        }
    }
}

/// Whether a command holds the lock file at `path` now (an OS lock on it).
#[cfg(test)]
fn is_held(path: &Path) -> Result<bool, StateError> {
    Ok(take_free(path)?.is_none() && path.exists())
}

/// Removes the lock file at `path` unless a command holds it, holding it
/// meanwhile (so that nobody takes it between the check and the removal).
/// Returns whether it was free and is now gone.
pub fn remove_if_free(path: &Path) -> Result<bool, StateError> {
    let Some(_held) = take_free(path)? else { return Ok(false) };
    std::fs::remove_file(path).map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
    Ok(true)
}

/// The lock file at `path`, OS-locked by us, when it exists and nobody holds it.
fn take_free(path: &Path) -> Result<Option<File>, StateError> {
    let io = |source| StateError::Io { path: path.to_path_buf(), source };
    use std::os::unix::fs::OpenOptionsExt;
    let file = match std::fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOFOLLOW).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(not_a_link(path, e)),
    };
    match file.try_lock() {
        Ok(()) if same_file(&file, path).map_err(io)? => Ok(Some(file)),
        Ok(()) | Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io(e)),
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
    fn a_symlinked_lock_file_is_refused_and_what_it_points_to_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("precious.txt");
        std::fs::write(&victim, "keep me").unwrap();
        let path = dir.path().join("dev.lock");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let err = Lock::acquire(dir.path(), &path, "dev", "apply").unwrap_err();
        assert!(matches!(err, StateError::LockIsLink { .. }), "{err}");
        assert!(err.to_string().contains("dev.lock is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(matches!(remove_if_free(&path), Err(StateError::LockIsLink { .. })));
        assert!(path.symlink_metadata().unwrap().file_type().is_symlink(), "the link is left for its owner");
    }

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_a_released_one_can_be_retaken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.lock");
        let first = Lock::acquire(dir.path(), &path, "dev", "apply").unwrap();
        let err = Lock::acquire(dir.path(), &path, "dev", "destroy").unwrap_err();
        match err {
            StateError::Locked { holder, .. } => assert_eq!(*holder, first.info),
            other => panic!("expected Locked, got {other}"),
        }
        drop(first);
        assert!(Lock::acquire(dir.path(), &path, "dev", "destroy").is_ok());
    }

    #[test]
    fn a_lock_whose_holder_died_is_taken_at_once_and_its_details_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.lock");
        // What a killed holder leaves: the file and its details, no OS lock.
        std::fs::write(
            &path,
            r#"{"id":"gone","pid":999999999,"host":"h","started":"2026-11-25T10:00:00Z","command":"apply"}"#,
        )
        .unwrap();
        let lock = Lock::acquire(dir.path(), &path, "dev", "apply").unwrap();
        assert_eq!(read(&path).unwrap(), lock.info);
        assert!(is_held(&path).unwrap());
        drop(lock);
        assert!(!path.exists(), "a finished holder removes the file");
        assert!(!is_held(&path).unwrap());
    }

    #[test]
    fn a_holder_whose_details_are_unreadable_is_still_a_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.lock");
        let first = Lock::acquire(dir.path(), &path, "dev", "apply").unwrap();
        let Held::File { file, .. } = &first.held else { unreachable!("a local lock") };
        file.set_len(0).unwrap();
        match Lock::acquire(dir.path(), &path, "dev", "apply").unwrap_err() {
            StateError::LockedUnnamed { stack, .. } => assert_eq!(stack, "dev"),
            other => panic!("expected LockedUnnamed, got {other}"),
        }
    }
}
