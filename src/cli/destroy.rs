//! `infra destroy`: remove everything the stack owns.

use super::Exit;
use super::apply::{RunArgs, execute};
use super::common::{self, StackArgs};
use super::stacks;

/// Delete every resource recorded in the stack's state, dependents first.
///
/// A stack holding a protected resource (`protect = true`) is not destroyed
/// at all, unless --exclude-protected keeps it (and what it depends on) and
/// deletes the rest.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Delete only RES and what depends on it (repeatable); RES is a resource
    /// state records, declared or not.
    #[arg(long = "target", value_name = "RES")]
    pub targets: Vec<String>,
    /// Keep the protected resources, and what they depend on (deleting that
    /// would break them), and delete everything else; state keeps recording
    /// what is kept.
    #[arg(long)]
    pub exclude_protected: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = std::sync::Arc::new(stacks::load_stack(&args.stack)?);
    let engine = common::engine(&stack).await;
    let lock = engine.lock("destroy")?;
    let request = crate::plan::Request {
        targets: args.targets,
        destroy: true,
        exclude_protected: args.exclude_protected,
        ..Default::default()
    };
    let show = common::show_plan(&stack, common::Format::Text, true);
    let (planned, shown) = engine.plan_shown(stack.clone(), &request, show).await?;
    execute(&engine, planned, &shown, &args.run, &lock, "Destroy").await
}
