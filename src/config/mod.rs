//! Stack files: `stacks/<name>.toml` loaded into a validated [`Stack`].
//!
//! This module owns the stack file format and nothing about AWS: reading the
//! file (size limit, UTF-8), parsing TOML with spans, the `[stack]`, `[config]`,
//! `[resources.<name>]` and `[outputs]` tables, `${config.KEY}` substitution,
//! `[secrets]` read from the environment or files and substituted as secret
//! values (`${secret.NAME}`, shown as `[secret]`, stored encrypted), and
//! turning every error, its own or [`Stack::validate`]'s, into a [`LoadError`]
//! that names file:line:col with a hint.
//!
//! ```toml
//! [stack]              # optional: region = "...", tags = { k = "v" }
//! [config]             # plain values; "${config.KEY}" elsewhere is replaced by them
//! [secrets]            # NAME = { env = "VAR" } or { file = "path" }; "${secret.NAME}"
//! [resources.<name>]   # type = "<kind>", optional depends_on and ignore_changes, properties
//! [outputs]            # named values, usually "${resource.attr}"
//! ```
//!
//! - `build`: TOML to [`Stack`], recording the span of every key and value by
//!   its model [`Path`](crate::model::Path).
//! - `spans`: that record; a validation error's path is mapped to its longest
//!   recorded prefix.
//! - `error`: [`LoadError`] and its rustc-like rendering.
//! - `schema`: the JSON Schema of the format, for editors (`infra schema`).

mod build;
mod error;
pub mod schema;
mod spans;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use build::{Extras, PROGRAM_TIMEOUT_SECS};
pub use error::LoadError;

use crate::model::schema::{Field, Ty};
use crate::model::{Seg, Stack};
use spans::Spans;

/// Stack files larger than this are refused before they are parsed.
pub const MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// Where `[secrets]` are read from: environment variables, and files relative
/// to a project directory.
pub struct Sources {
    pub dir: PathBuf,
    pub env: Box<EnvLookup>,
}

/// Reads one environment variable.
pub type EnvLookup = dyn Fn(&str) -> Option<String>;

impl Sources {
    /// The process's environment, and files relative to `dir`.
    pub fn process(dir: impl Into<PathBuf>) -> Sources {
        Sources { dir: dir.into(), env: Box::new(|name| std::env::var(name).ok()) }
    }

    /// Fixed variables (tests, programs), and files relative to `dir`.
    pub fn fixed(dir: impl Into<PathBuf>, vars: &[(&str, &str)]) -> Sources {
        let vars: std::collections::BTreeMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Sources { dir: dir.into(), env: Box::new(move |name| vars.get(name).cloned()) }
    }
}

/// Loads and validates a stack file; the stack is named after the file's stem.
/// Secrets come from the process's environment and from files relative to the
/// current directory (the project directory).
pub fn load_file(path: &Path) -> Result<Stack, LoadError> {
    load_file_with(path, &Sources::process("."))
}

/// [`load_file`], with secrets read from `sources`.
pub fn load_file_with(path: &Path, sources: &Sources) -> Result<Stack, LoadError> {
    load_file_extras(path, sources).map(|(stack, _)| stack)
}

/// [`load_file_with`], and what the file gives besides the stack: its
/// `[config]` and `[secrets]`, and the program that declares it, if one does.
pub fn load_file_extras(path: &Path, sources: &Sources) -> Result<(Stack, Extras), LoadError> {
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let bytes = read_limited(path)?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => load_str_extras(&name, path, text, sources),
        Err(e) => {
            let at = e.valid_up_to();
            let byte = bytes.get(at).copied().unwrap_or(0);
            Err(LoadError::at(
                path,
                &String::from_utf8_lossy(&bytes),
                at..at + 1,
                format!("the file is not valid UTF-8: byte 0x{byte:02x} here"),
            )
            .with_hint(Some("save the stack file as UTF-8".into())))
        }
    }
}

/// Loads and validates a stack from its text; `file` is the name errors show.
pub fn load_str(name: &str, file: &Path, text: &str) -> Result<Stack, LoadError> {
    load_str_with(name, file, text, &Sources::process("."))
}

/// [`load_str`], with secrets read from `sources`.
pub fn load_str_with(name: &str, file: &Path, text: &str, sources: &Sources) -> Result<Stack, LoadError> {
    load_str_extras(name, file, text, sources).map(|(stack, _)| stack)
}

fn load_str_extras(name: &str, file: &Path, text: &str, sources: &Sources) -> Result<(Stack, Extras), LoadError> {
    if text.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(file, text.len() as u64));
    }
    let (stack, _, extras) = build::build(name, text, sources, Spans::off())
        .map_err(|p| LoadError::at(file, text, p.span, p.message).with_hint(p.hint))?;
    stack.validate().map_err(|e| {
        // Built again, recording where each part is, to show the error at it.
        let spans = build::build(name, text, sources, Spans::default()).map(|(_, spans, _)| spans).unwrap_or_default();
        // A bad reference in a list or table is shown at the string holding it.
        let span = quoted_reference(&e.message)
            .and_then(|r| spans.find_inside(&e.path, |s| text.get(s.clone()).is_some_and(|t| t.contains(r))))
            .or_else(|| spans.find(&e.path, names_unknown_key(&stack, &e.path)))
            .unwrap_or(0..0);
        LoadError::at(file, text, span, e.message).with_hint(e.hint)
    })?;
    Ok((stack, extras))
}

/// The `${a.b}` that a validation message starts with, as in "`${a.b}` refers to ...".
fn quoted_reference(message: &str) -> Option<&str> {
    let rest = message.strip_prefix('`')?;
    rest.find('`').map(|end| &rest[..end]).filter(|r| r.starts_with("${"))
}

/// The names of the stacks in `dir/stacks` (its `*.toml` files), sorted.
pub fn list_stacks(dir: &Path) -> Result<Vec<String>, LoadError> {
    let stacks = dir.join("stacks");
    let io = |e: std::io::Error| LoadError::file(&stacks, format!("cannot list stacks: {e}"));
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&stacks).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "toml")
            && path.is_file()
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The file's bytes, refusing a file over [`MAX_FILE_SIZE`] without reading it.
fn read_limited(path: &Path) -> Result<Vec<u8>, LoadError> {
    let io = |e: std::io::Error| LoadError::file(path, format!("cannot read the stack file: {e}"));
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_FILE_SIZE {
        return Err(too_large(path, size));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(path, bytes.len() as u64));
    }
    Ok(bytes)
}

fn too_large(file: &Path, size: u64) -> LoadError {
    LoadError::file(
        file,
        format!("the stack file is too large ({size} bytes); the limit is {} MiB", MAX_FILE_SIZE / 1024 / 1024),
    )
}

/// Whether `path` ends in a property name that its resource's schema does not
/// know: such an error is shown at the key, every other at the value.
fn names_unknown_key(stack: &Stack, path: &crate::model::Path) -> bool {
    let [Seg::Key(top), Seg::Key(name), rest @ ..] = path.0.as_slice() else { return false };
    let Some(resource) = stack.resources.get(name).filter(|_| top == "resources") else { return false };
    let mut ty: Option<&Ty> = None; // None: the resource's own properties
    for (i, seg) in rest.iter().enumerate() {
        let fields: &[Field] = match (ty, seg) {
            (Some(Ty::List(inner) | Ty::Set(inner)), Seg::Index(_)) => {
                ty = Some(inner);
                continue;
            }
            (None, Seg::Key(_)) => resource.kind.schema().fields,
            (Some(Ty::Object(fields)), Seg::Key(_)) => fields,
            _ => return false,
        };
        let Seg::Key(key) = seg else { return false };
        match fields.iter().find(|f| f.name == key) {
            Some(field) => ty = Some(&field.ty),
            None => return i + 1 == rest.len(),
        }
    }
    false
}
