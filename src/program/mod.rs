//! Stacks as Rust programs, as Pulumi gives them: typed resources generated
//! from the schemas ([`crate::aws`]), typed references between them
//! ([`Output`], [`Handle`]), templates and secrets, per-stack configuration, and
//! the whole command line for a program's `main` ([`run`]).
//!
//! A program declares a [`Stack`] through a [`Ctx`]; the stack then goes
//! through the same validation, planning and applying as a stack file's. A
//! program run by `infra` itself (`[stack] program = "..."` in a stack file)
//! hands its declaration over as JSON ([`seam`]).
//!
//! ```no_run
//! use infra::aws::ec2;
//! use infra::program::{Ctx, ProgramError};
//!
//! fn declare(ctx: &mut Ctx) -> Result<(), ProgramError> {
//!     let sg = ctx.add("data_sg", ec2::SecurityGroup::new().description("data services"))?;
//!     let data = ctx.add("data", ec2::Volume::new("us-east-1a", 30))?;
//!     ctx.output("volume_id", data.id());
//!     ctx.output("group", sg.id());
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     infra::run(declare)
//! }
//! ```

pub mod codegen;
#[rustfmt::skip]
pub mod generated;
pub mod seam;
mod typed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use typed::*;

use crate::model::{AWS, Ref, Resource, Stack, Value};

/// Why a program could not declare its stack.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error("the program declares `{0}` twice")]
    Duplicate(String),
    #[error("{}: [config] {message}", file.display())]
    Config { file: PathBuf, message: String },
    #[error("stack `{stack}` as its program declares it: {source}")]
    Seam { stack: String, source: seam::SeamError },
    #[error("stack `{stack}` as its program declares it: {path}: {message}{}", hint.as_deref().map(|h| format!("\n  = hint: {h}")).unwrap_or_default())]
    Invalid { stack: String, path: String, message: String, hint: Option<String> },
}

/// What a resource declares besides its properties.
#[derive(Clone, Debug, Default)]
pub struct Options {
    depends_on: Vec<String>,
    ignore_changes: Vec<String>,
    allow: BTreeMap<String, String>,
    protect: Option<bool>,
}

impl Options {
    pub fn new() -> Self {
        Options::default()
    }

    /// An ordering its references do not imply: after `other`.
    pub fn depends_on<R>(mut self, other: &Handle<R>) -> Self {
        self.depends_on.push(other.logical_name().to_string());
        self
    }

    /// A property whose drift is expected and never acted on.
    pub fn ignore_changes(mut self, property: &str) -> Self {
        self.ignore_changes.push(property.to_string());
        self
    }

    /// Allows the policy check `check` to fail for this resource, for `reason`.
    pub fn allow(mut self, check: &str, reason: &str) -> Self {
        self.allow.insert(check.to_string(), reason.to_string());
        self
    }

    /// `protect(true)`: no plan may delete or replace the resource (a stack
    /// file's `protect = true`); `protect(false)` lifts a protection state records.
    pub fn protect(mut self, protect: bool) -> Self {
        self.protect = Some(protect);
        self
    }
}

/// What a program declares its stack through.
pub struct Ctx {
    stack: Stack,
    /// The stack file's `[config]`, and the file.
    config: BTreeMap<String, Value>,
    file: PathBuf,
}

impl Ctx {
    /// A context for the stack `name`, with the `[config]` of `file` (which
    /// need not exist).
    pub fn new(name: &str, config: BTreeMap<String, Value>, file: &Path) -> Self {
        Ctx { stack: Stack::new(name), config, file: file.to_path_buf() }
    }

    /// The name of the stack being declared (`dev`, `prod`).
    pub fn stack_name(&self) -> &str {
        &self.stack.name
    }

    /// `${aws.account_id}`: the id of the account the stack is applied in,
    /// known once infra has asked AWS (before it plans).
    pub fn account_id(&self) -> Output<String> {
        Output::of(Value::Ref(Ref::new(AWS, "account_id")))
    }

    /// `${aws.region}`: the region the stack is applied in.
    pub fn aws_region(&self) -> Output<String> {
        Output::of(Value::Ref(Ref::new(AWS, "region")))
    }

    /// `${aws.partition}`: the region's partition as ARNs name it (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> Output<String> {
        Output::of(Value::Ref(Ref::new(AWS, "partition")))
    }

    /// The stack's AWS region.
    pub fn region(&mut self, region: &str) {
        self.stack.region = Some(region.to_string());
    }

    /// A tag every taggable resource of the stack carries.
    pub fn tag(&mut self, key: &str, value: &str) {
        self.stack.tags.insert(key.to_string(), value.to_string());
    }

    /// Declares `resource` as `name`; its handle gives its typed outputs.
    pub fn add<R: Declare>(&mut self, name: &str, resource: R) -> Result<Handle<R>, ProgramError> {
        self.add_with(name, resource, Options::new())
    }

    /// [`Ctx::add`], with dependencies, ignored changes, allowed checks or protection.
    pub fn add_with<R: Declare>(
        &mut self,
        name: &str,
        resource: R,
        options: Options,
    ) -> Result<Handle<R>, ProgramError> {
        if self.stack.resources.contains_key(name) {
            return Err(ProgramError::Duplicate(name.to_string()));
        }
        let mut declared = Resource::new(R::KIND);
        declared.props = resource.into_props();
        declared.depends_on = options.depends_on;
        declared.ignore_changes = options.ignore_changes;
        declared.allow = options.allow;
        declared.protect = options.protect;
        self.stack.resources.insert(name.to_string(), declared);
        Ok(Handle::new(name))
    }

    /// A named value `infra output` shows.
    pub fn output<T>(&mut self, name: &str, value: impl Into<Input<T>>) {
        self.stack.outputs.insert(name.to_string(), value.into().into_value());
    }

    /// The secret `name` of the stack file's `[secrets]`: a secret through
    /// every template it goes into, never shown, stored only encrypted.
    pub fn secret(&self, name: &str) -> Output<String> {
        Output::of(Value::secret(Value::Ref(crate::model::Ref::new("secret", name))))
    }

    /// The stack file's `[config]` as `T`; a missing or mistyped key is an
    /// error naming it.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProgramError> {
        let table: serde_json::Map<String, serde_json::Value> =
            self.config.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
        serde_path_to_error::deserialize(serde_json::Value::Object(table)).map_err(|e| {
            let path = e.path().to_string();
            let message = if path == "." { e.inner().to_string() } else { format!("`{path}`: {}", e.inner()) };
            ProgramError::Config { file: self.file.clone(), message }
        })
    }

    /// The declared stack.
    pub fn into_stack(self) -> Stack {
        self.stack
    }
}

/// A declared stack completed with its stack file's settings (`file` and
/// `extras`, as `config::load_file_extras` gives them): the backend, the
/// region and tags unless declared, and the secrets its `${secret.NAME}` name;
/// then validated as a stack file is.
pub fn complete(mut declared: Stack, file: Stack, extras: &crate::config::Extras) -> Result<Stack, ProgramError> {
    declared.backend = file.backend;
    declared.cost = file.cost;
    if declared.region.is_none() {
        declared.region = file.region;
    }
    for (k, v) in file.tags {
        declared.tags.entry(k).or_insert(v);
    }
    let stack = declared.name.clone();
    seam::resolve_secrets(&mut declared, &extras.secrets)
        .map_err(|source| ProgramError::Seam { stack: stack.clone(), source })?;
    declared.validate().map_err(|e| ProgramError::Invalid {
        stack,
        path: e.path.to_string(),
        message: e.message,
        hint: e.hint,
    })?;
    Ok(declared)
}

/// A program's declaration: the stack named, from its context.
pub type DeclareFn = dyn Fn(&mut Ctx) -> Result<(), ProgramError> + Send + Sync;
