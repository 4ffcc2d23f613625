//! Local artifacts: the source bundles Elastic Beanstalk deploys, built from a
//! directory of the project before a plan is made. No AWS here.
//!
//! A bundle is a zip archive built reproducibly: entries sorted by path, every
//! timestamp 1980-01-01 00:00, permissions 0644 (0755 for executables), deflate.
//! The same content therefore always gives the same bytes and the same hash, so
//! an `elasticbeanstalk.application_version` labelled by that hash changes only
//! when a file does. Only regular files are stored (empty directories are not);
//! symbolic links to files are stored as the file they point to. A `.env` at
//! the top is left out: Elastic Beanstalk writes that file from the
//! environment's properties, and does not when a bundle brings its own (which
//! would also put a developer's local settings, passwords included, into S3).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

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
    /// A resource whose bundle cannot be prepared; `at` is `resources.<name>.<property>`.
    #[error("{at}: {message}")]
    Resource { at: String, message: String },
}

/// The file Elastic Beanstalk writes the environment's properties to, left out
/// of bundles.
const LOCAL_ENV: &str = ".env";

/// Zips `dir` reproducibly (see the module documentation).
pub fn zip_dir(dir: &Path) -> Result<Bundle, BundleError> {
    let mut files = Vec::new();
    collect_files(dir, "", &mut files)?;
    files.retain(|name| name != LOCAL_ENV);
    files.sort();

    let zip_err = |source| BundleError::Zip { path: dir.to_path_buf(), source };
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for name in &files {
        let path = dir.join(name);
        let io_err = |source| BundleError::Io { path: path.clone(), source };
        let content = std::fs::read(&path).map_err(io_err)?;
        let mode = if is_executable(&std::fs::metadata(&path).map_err(io_err)?) { 0o755 } else { 0o644 };
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

/// The paths of the regular files under `dir`, relative to the bundle's root
/// (`prefix`), with `/` separators.
fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), BundleError> {
    let io_err = |source| BundleError::Io { path: dir.to_path_buf(), source };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let link = entry.file_type().map_err(io_err)?.is_symlink();
        let meta = std::fs::metadata(&path).map_err(|source| BundleError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            if link {
                return Err(BundleError::LinkedDirectory { path });
            }
            collect_files(&path, &format!("{name}/"), out)?;
        } else if meta.is_file() {
            out.push(name);
        }
    }
    Ok(())
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
        let with = zip_dir(&dir.path().join("app")).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(with.bytes)).unwrap();
        let names: Vec<String> = archive.file_names().map(|n| n.unwrap().to_string()).collect();
        assert_eq!(names, ["conf/.env", "conf/redis-1.conf", "docker-compose.yml"]);
        assert!(archive.by_name(".env").is_err());
        fs::remove_file(dir.path().join("app/conf/.env")).unwrap();
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
