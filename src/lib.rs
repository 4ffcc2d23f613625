//! `infra`: infrastructure as code for AWS.
//!
//! Data flows one way: a stack (file or program) is loaded and validated into a
//! [`model::Stack`]; state is loaded by [`state`]; AWS is read by [`provider`];
//! [`plan::plan`] diffs the three without I/O; [`apply`] executes the plan,
//! writing state after every step. See ARCHITECTURE.md.

pub mod apply;
pub mod bundle;
pub mod check;
pub mod cli;
pub mod compose;
pub mod config;
pub mod cost;
pub mod engine;
pub mod model;
pub mod permissions;
pub mod plan;
pub mod program;
pub mod provider;
pub mod refresh;
pub mod render;
pub mod secret;
pub mod state;

/// Typed resources for stack programs, one module per AWS service (see [`program`]).
pub use program::generated as aws;

/// The whole `infra` command line, for a stack program's `main`: `cargo run
/// --example dev -- plan --stack dev`, and every other command, with the
/// same flags, output and exit codes as `infra` on a stack file. The stack's
/// file (`stacks/<name>.toml`, if any) gives its `[config]`, `[secrets]`,
/// `[backend]`, region and tags; `declare` gives its resources and outputs.
/// It sits on top of every layer: [`program`] declares, [`cli`] runs.
pub fn run(
    declare: impl Fn(&mut program::Ctx) -> Result<(), program::ProgramError> + Send + Sync + 'static,
) -> std::process::ExitCode {
    cli::main_with(Some(Box::new(declare)))
}
