//! Local artifacts: the source bundles Elastic Beanstalk deploys, built from a
//! directory of the project before a plan is made. No AWS here.
//!
//! A bundle is a zip archive built reproducibly: entries sorted by path, every
//! timestamp 1980-01-01 00:00, permissions 0644 (0755 for executables), deflate.
//! The same content therefore always gives the same bytes and the same hash, so
//! an `elasticbeanstalk.application_version` labelled by that hash changes only
//! when a file does. Only regular files are stored (empty directories are not).
//!
//! A bundle holds what is in its directory and nothing else:
//! - A symbolic link is followed only when what it points to is inside the
//!   directory, and is then stored as the file it points to (a zip has no
//!   portable way to carry a link, and Elastic Beanstalk unzips on another
//!   machine); one that leads outside is refused, with its path. A link to a
//!   directory is refused wherever it points (it could loop).
//! - `.ebignore` at the top, Elastic Beanstalk's own file in gitignore syntax,
//!   leaves out what it matches, as the EB CLI does.
//! - A file that looks like a credential (see [`SENSITIVE`]: `.env`, `*.pem`,
//!   `*.key`, anything under `.aws/`, `id_rsa*`, `id_ed25519*`, anywhere, also
//!   as the target of a link) is refused unless its path is a line of
//!   `.bundle-allow` at the top: one path per line, relative to the directory,
//!   no patterns, no comments. A line naming nothing in the bundle is refused
//!   too, so the list cannot go stale silently.
//! - A `.env` at the top is left out: Elastic Beanstalk writes that file from
//!   the environment's properties, and does not when a bundle brings its own
//!   (which would also put a developer's local settings, passwords included,
//!   into S3). `.ebignore` and `.bundle-allow` are left out too: they say how
//!   to build the bundle, they are not part of it.

use std::collections::BTreeSet;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::model::{Kind, Stack, Value};

/// A zipped directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    pub bytes: Vec<u8>,
    /// The SHA-256 of `bytes`, in lowercase hex.
    pub hash: String,
}

impl Bundle {
    /// The application version label for this content: `v-<first 16 hex of the hash>`.
    pub fn label(&self) -> String {
        format!("v-{}", &self.hash[..16])
    }
}

/// A bundle that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot zip {path}: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{path} is a symbolic link to a directory, which a bundle does not follow")]
    LinkedDirectory { path: PathBuf },
    #[error(
        "{path} is a symbolic link to {target}, outside the bundle's directory {dir}: a bundle holds only what is inside it"
    )]
    LinkOutside { path: PathBuf, target: PathBuf, dir: PathBuf },
    #[error(
        "{path} looks like a credential ({why}) and is not bundled; if it belongs in the bundle, add the line `{name}` to {allow}"
    )]
    Sensitive { path: PathBuf, name: String, why: String, allow: PathBuf },
    #[error("{allow} lists `{name}`, which is not a file of the bundle")]
    AllowedMissing { allow: PathBuf, name: String },
    #[error("cannot read {path}: {message}")]
    Ignore { path: PathBuf, message: String },
    /// A resource whose bundle cannot be prepared; `at` is `resources.<name>.<property>`.
    #[error("{at}: {message}")]
    Resource { at: String, message: String },
}

/// The file Elastic Beanstalk writes the environment's properties to, left out
/// of bundles.
const LOCAL_ENV: &str = ".env";

/// Elastic Beanstalk's list of what to leave out of a bundle, gitignore syntax.
pub const EBIGNORE: &str = ".ebignore";

/// The list of credential-like files a bundle may hold nonetheless: one path a
/// line, relative to the bundle's directory.
pub const ALLOW_FILE: &str = ".bundle-allow";

/// What a file that looks like a credential matches, in gitignore syntax
/// (a pattern without `/` matches at any depth).
pub const SENSITIVE: &[&str] = &[".env", "*.pem", "*.key", ".aws/", "id_rsa*", "id_ed25519*"];

/// Zips `dir` reproducibly, holding only what is inside it (see the module
/// documentation).
pub fn zip_dir(dir: &Path) -> Result<Bundle, BundleError> {
    let walk = Walk::new(dir)?;
    let mut files = Vec::new();
    walk.collect(dir, "", &mut files)?;
    files.sort();
    let bundled: BTreeSet<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    if let Some(name) = walk.allowed.iter().find(|name| !bundled.contains(name.as_str())) {
        return Err(BundleError::AllowedMissing { allow: dir.join(ALLOW_FILE), name: name.clone() });
    }

    let zip_err = |source| BundleError::Zip { path: dir.to_path_buf(), source };
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, path) in &files {
        let io_err = |source| BundleError::Io { path: path.clone(), source };
        let content = std::fs::read(path).map_err(io_err)?;
        let mode = if is_executable(&std::fs::metadata(path).map_err(io_err)?) { 0o755 } else { 0o644 };
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(mode);
        zip.start_file(name.as_str(), options).map_err(zip_err)?;
        zip.write_all(&content).map_err(io_err)?;
    }
    let bytes = zip.finish().map_err(zip_err)?.into_inner();
    let hash = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    Ok(Bundle { bytes, hash })
}

/// What decides which files of a bundle's directory go in.
struct Walk {
    /// The directory, canonical: every file's real path must start with it.
    root: PathBuf,
    /// `.ebignore`'s rules (none without the file).
    ebignore: Gitignore,
    sensitive: Gitignore,
    /// The lines of `.bundle-allow`.
    allowed: BTreeSet<String>,
    allow_file: PathBuf,
}

impl Walk {
    fn new(dir: &Path) -> Result<Walk, BundleError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BundleError::Io { path, source }
        };
        let root = dir.canonicalize().map_err(io_err(dir))?;
        let mut ebignore = GitignoreBuilder::new(dir);
        let ebignore_path = dir.join(EBIGNORE);
        if ebignore_path.is_file()
            && let Some(e) = ebignore.add(&ebignore_path)
        {
            return Err(BundleError::Ignore { path: ebignore_path, message: e.to_string() });
        }
        let ebignore =
            ebignore.build().map_err(|e| BundleError::Ignore { path: ebignore_path, message: e.to_string() })?;
        let mut sensitive = GitignoreBuilder::new(dir);
        for pattern in SENSITIVE {
            sensitive
                .add_line(None, pattern)
                .map_err(|e| BundleError::Ignore { path: PathBuf::from(pattern), message: e.to_string() })?;
        }
        let sensitive =
            sensitive.build().map_err(|e| BundleError::Ignore { path: PathBuf::new(), message: e.to_string() })?;
        let allow_file = dir.join(ALLOW_FILE);
        let allowed = match std::fs::read_to_string(&allow_file) {
            Ok(text) => text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(source) => return Err(BundleError::Io { path: allow_file, source }),
        };
        Ok(Walk { root, ebignore, sensitive, allowed, allow_file })
    }

    /// Why `name` (relative, `/` separators) looks like a credential, if it does.
    fn sensitive(&self, name: &str, is_dir: bool) -> Option<String> {
        let m = self.sensitive.matched_path_or_any_parents(name, is_dir);
        m.inner().filter(|_| m.is_ignore()).map(|glob| format!("matches `{}`", glob.original()))
    }

    /// Adds to `out` the files under `dir` as (name in the bundle, path to
    /// read), names relative to the bundle's root (`prefix`), `/` separators.
    fn collect(&self, dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), BundleError> {
        let io_err = |source| BundleError::Io { path: dir.to_path_buf(), source };
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let path = entry.path();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if [LOCAL_ENV, EBIGNORE, ALLOW_FILE].contains(&name.as_str()) {
                continue;
            }
            let link = entry.file_type().map_err(io_err)?.is_symlink();
            let meta = std::fs::metadata(&path).map_err(|source| BundleError::Io { path: path.clone(), source })?;
            if self.ebignore.matched(&name, meta.is_dir()).is_ignore() {
                continue;
            }
            // Where a link leads, relative to the root, when it stays inside.
            let mut target_name = None;
            if link {
                let target = path.canonicalize().map_err(|source| BundleError::Io { path: path.clone(), source })?;
                let Ok(inside) = target.strip_prefix(&self.root) else {
                    return Err(BundleError::LinkOutside { path, target, dir: self.root.clone() });
                };
                target_name = Some(inside.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"));
            }
            if meta.is_dir() {
                if link {
                    return Err(BundleError::LinkedDirectory { path });
                }
                self.collect(&path, &format!("{name}/"), out)?;
            } else if meta.is_file() {
                let why = self.sensitive(&name, false).or_else(|| {
                    let target = target_name.as_deref()?;
                    self.sensitive(target, false).map(|why| format!("a link to {target}, which {why}"))
                });
                if let Some(why) = why
                    && !self.allowed.contains(&name)
                {
                    return Err(BundleError::Sensitive { path, name, why, allow: self.allow_file.clone() });
                }
                out.push((name, path));
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// Builds the bundle of every `elasticbeanstalk.application_version` in `stack`
/// from its `source_dir` (relative to `base`, the project directory) and sets
/// the version's `label` from the bundle's hash. The provider builds the bundle
/// again when it uploads it, and refuses if the content changed in between.
pub fn prepare(stack: &mut Stack, base: &Path) -> Result<(), BundleError> {
    for (name, res) in stack.resources.iter_mut().filter(|(_, r)| r.kind == Kind::EbVersion) {
        let at = |prop: &str| format!("resources.{name}.{prop}");
        if res.props.contains_key("label") {
            return Err(BundleError::Resource {
                at: at("label"),
                message: "`label` is set from the content of `source_dir`; remove it from the stack".into(),
            });
        }
        let Some(source_dir) = res.props.get("source_dir").and_then(Value::as_str) else {
            return Err(BundleError::Resource {
                at: at("source_dir"),
                message: "expected a directory path (a plain string, not a reference)".into(),
            });
        };
        let dir = base.join(source_dir);
        if !dir.is_dir() {
            let what = if dir.exists() { "is not a directory" } else { "does not exist" };
            return Err(BundleError::Resource { at: at("source_dir"), message: format!("{} {what}", dir.display()) });
        }
        let bundle =
            zip_dir(&dir).map_err(|e| BundleError::Resource { at: at("source_dir"), message: e.to_string() })?;
        res.props.insert("label".into(), Value::Str(bundle.label()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::model::Resource;

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("app/conf")).unwrap();
        fs::write(dir.path().join("app/docker-compose.yml"), "services: {}\n").unwrap();
        fs::write(dir.path().join("app/conf/redis-1.conf"), "port 6379\n").unwrap();
        dir
    }

    fn touch(path: &Path, at: SystemTime) {
        fs::File::options().write(true).open(path).unwrap().set_modified(at).unwrap();
    }

    #[test]
    fn the_same_content_gives_the_same_hash_whatever_the_file_times() {
        let dir = project();
        let first = zip_dir(&dir.path().join("app")).unwrap();
        let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        touch(&dir.path().join("app/docker-compose.yml"), long_ago);
        touch(&dir.path().join("app/conf/redis-1.conf"), SystemTime::now() + Duration::from_secs(3600));
        let second = zip_dir(&dir.path().join("app")).unwrap();
        assert_eq!(first.hash, second.hash);
        assert_eq!(first.bytes, second.bytes);
        assert_eq!(first.hash.len(), 64);
    }

    #[test]
    fn one_changed_byte_gives_a_new_hash() {
        let dir = project();
        let first = zip_dir(&dir.path().join("app")).unwrap();
        fs::write(dir.path().join("app/conf/redis-1.conf"), "port 6378\n").unwrap();
        let second = zip_dir(&dir.path().join("app")).unwrap();
        assert_ne!(first.hash, second.hash);
    }

    #[test]
    fn entries_are_sorted_with_fixed_times_and_permissions() {
        let dir = project();
        let bundle = zip_dir(&dir.path().join("app")).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bundle.bytes)).unwrap();
        let names: Vec<String> = archive.file_names().map(|n| n.unwrap().to_string()).collect();
        assert_eq!(names, ["conf/redis-1.conf", "docker-compose.yml"]);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.last_modified(), Some(DateTime::default()));
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o644));
    }

    #[test]
    fn a_local_env_file_is_left_out_and_changes_nothing() {
        let dir = project();
        let without = zip_dir(&dir.path().join("app")).unwrap();
        fs::write(dir.path().join("app/.env"), "ELASTIC_PASSWORD=local\n").unwrap();
        fs::write(dir.path().join("app/conf/.env"), "KEPT=1\n").unwrap();
        fs::write(dir.path().join("app/.bundle-allow"), "conf/.env\n").unwrap();
        let with = zip_dir(&dir.path().join("app")).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(with.bytes)).unwrap();
        let names: Vec<String> = archive.file_names().map(|n| n.unwrap().to_string()).collect();
        assert_eq!(names, ["conf/.env", "conf/redis-1.conf", "docker-compose.yml"]);
        assert!(archive.by_name(".env").is_err());
        fs::remove_file(dir.path().join("app/conf/.env")).unwrap();
        fs::remove_file(dir.path().join("app/.bundle-allow")).unwrap();
        assert_eq!(zip_dir(&dir.path().join("app")).unwrap().hash, without.hash);
    }

    #[cfg(unix)]
    #[test]
    fn executables_keep_their_executable_bit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = project();
        let script = dir.path().join("app/start.sh");
        fs::write(&script, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o700)).unwrap();
        let bundle = zip_dir(&dir.path().join("app")).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bundle.bytes)).unwrap();
        let entry = archive.by_name("start.sh").unwrap();
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    fn names(bundle: Bundle) -> Vec<String> {
        let archive = zip::ZipArchive::new(Cursor::new(bundle.bytes)).unwrap();
        archive.file_names().map(|n| n.unwrap().to_string()).collect()
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_file_outside_the_directory_is_refused_with_its_path() {
        let dir = project();
        let outside = dir.path().join("credentials");
        fs::write(&outside, "[default]\naws_secret_access_key = x\n").unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join("app/conf/x")).unwrap();
        let err = zip_dir(&dir.path().join("app")).unwrap_err();
        assert!(matches!(err, BundleError::LinkOutside { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("app/conf/x") && message.contains("outside the bundle's directory"), "{message}");

        // A relative link climbing out is the same.
        fs::remove_file(dir.path().join("app/conf/x")).unwrap();
        std::os::unix::fs::symlink("../../credentials", dir.path().join("app/conf/x")).unwrap();
        assert!(matches!(zip_dir(&dir.path().join("app")), Err(BundleError::LinkOutside { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_file_inside_the_directory_is_stored_as_that_file() {
        let dir = project();
        std::os::unix::fs::symlink("conf/redis-1.conf", dir.path().join("app/redis.conf")).unwrap();
        let bundle = zip_dir(&dir.path().join("app")).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bundle.bytes)).unwrap();
        let mut content = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("redis.conf").unwrap(), &mut content).unwrap();
        assert_eq!(content, "port 6379\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_inside_to_a_credential_is_refused_like_the_credential() {
        let dir = project();
        fs::write(dir.path().join("app/conf/server.key"), "KEY").unwrap();
        fs::write(dir.path().join("app/.ebignore"), "conf/server.key\n").unwrap();
        std::os::unix::fs::symlink("conf/server.key", dir.path().join("app/notes.txt")).unwrap();
        let err = zip_dir(&dir.path().join("app")).unwrap_err().to_string();
        assert!(err.contains("notes.txt") && err.contains("a link to conf/server.key"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_directory_is_refused_even_inside() {
        let dir = project();
        std::os::unix::fs::symlink("conf", dir.path().join("app/more")).unwrap();
        assert!(matches!(zip_dir(&dir.path().join("app")), Err(BundleError::LinkedDirectory { .. })));
    }

    #[test]
    fn files_that_look_like_credentials_are_refused_at_any_depth_naming_the_path_and_the_remedy() {
        for file in
            ["conf/.env", "tls/server.pem", "tls/server.key", ".aws/credentials", "id_rsa", "a/b/id_ed25519.pub"]
        {
            let dir = project();
            let path = dir.path().join("app").join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "secret").unwrap();
            let err = zip_dir(&dir.path().join("app")).unwrap_err();
            assert!(matches!(err, BundleError::Sensitive { .. }), "{file}: {err}");
            let message = err.to_string();
            assert!(message.contains(file), "{message}");
            assert!(
                message.contains(&format!("add the line `{file}` to")) && message.contains(".bundle-allow"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_credential_listed_in_the_allow_file_is_bundled_and_the_list_is_not() {
        let dir = project();
        fs::create_dir_all(dir.path().join("app/tls")).unwrap();
        fs::write(dir.path().join("app/tls/ca.pem"), "PUBLIC CA").unwrap();
        fs::write(dir.path().join("app/.bundle-allow"), "tls/ca.pem\n").unwrap();
        assert_eq!(
            names(zip_dir(&dir.path().join("app")).unwrap()),
            ["conf/redis-1.conf", "docker-compose.yml", "tls/ca.pem"]
        );
    }

    #[test]
    fn an_allowed_path_that_is_not_in_the_bundle_is_refused() {
        let dir = project();
        fs::write(dir.path().join("app/.bundle-allow"), "tls/gone.pem\n").unwrap();
        let err = zip_dir(&dir.path().join("app")).unwrap_err().to_string();
        assert!(err.contains("`tls/gone.pem`") && err.contains("not a file of the bundle"), "{err}");
    }

    #[test]
    fn ebignore_leaves_out_what_it_matches_in_gitignore_syntax() {
        let dir = project();
        fs::create_dir_all(dir.path().join("app/node_modules/x")).unwrap();
        fs::write(dir.path().join("app/node_modules/x/index.js"), "").unwrap();
        fs::write(dir.path().join("app/debug.log"), "").unwrap();
        fs::write(dir.path().join("app/conf/keep.log"), "").unwrap();
        // A credential that .ebignore leaves out is not refused: it is not bundled.
        fs::write(dir.path().join("app/conf/.env"), "X=1").unwrap();
        fs::write(dir.path().join("app/.ebignore"), "node_modules/\n*.log\n!conf/keep.log\n.env\n").unwrap();
        assert_eq!(
            names(zip_dir(&dir.path().join("app")).unwrap()),
            ["conf/keep.log", "conf/redis-1.conf", "docker-compose.yml"]
        );
    }

    #[test]
    fn an_ignored_link_leading_outside_is_not_followed() {
        let dir = project();
        fs::write(dir.path().join("secret"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("../secret", dir.path().join("app/outside")).unwrap();
        fs::write(dir.path().join("app/.ebignore"), "/outside\n").unwrap();
        assert_eq!(names(zip_dir(&dir.path().join("app")).unwrap()), ["conf/redis-1.conf", "docker-compose.yml"]);
    }

    fn stack_with_version(source_dir: &str) -> Stack {
        Stack::new("dev").resource(
            "site",
            Resource::new(Kind::EbVersion)
                .prop("application", Value::reference("app", "name"))
                .prop("bucket", "artifacts")
                .prop("source_dir", source_dir),
        )
    }

    #[test]
    fn prepare_labels_each_version_by_its_content() {
        let dir = project();
        let mut stack = stack_with_version("app");
        prepare(&mut stack, dir.path()).unwrap();
        let label = stack.resources["site"].props["label"].as_str().unwrap().to_string();
        assert_eq!(label, zip_dir(&dir.path().join("app")).unwrap().label());
        assert!(label.starts_with("v-") && label.len() == 18, "{label}");

        let mut again = stack_with_version("app");
        prepare(&mut again, dir.path()).unwrap();
        assert_eq!(again.resources["site"].props["label"].as_str(), Some(label.as_str()));
    }

    #[test]
    fn a_missing_source_dir_is_an_error_naming_the_resource_and_the_path() {
        let dir = project();
        let err = prepare(&mut stack_with_version("nowhere"), dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("resources.site.source_dir: "), "{err}");
        assert!(err.contains("nowhere") && err.ends_with("does not exist"), "{err}");

        let err = prepare(&mut stack_with_version("app/docker-compose.yml"), dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("is not a directory"), "{err}");
    }

    #[test]
    fn a_label_written_in_the_stack_is_refused() {
        let dir = project();
        let mut stack = stack_with_version("app");
        stack.resources.get_mut("site").unwrap().props.insert("label".into(), Value::from("v1"));
        let err = prepare(&mut stack, dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("resources.site.label: "), "{err}");
    }
}
