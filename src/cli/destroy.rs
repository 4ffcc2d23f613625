//! `infra destroy`: remove everything the stack owns.

use super::Exit;
use super::apply::{RunArgs, execute};
use super::common::{self, StackArgs};

/// Delete every resource recorded in the stack's state, dependents first.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = common::load_stack(&args.stack)?;
    let engine = common::engine(&stack).await;
    let lock = engine.lock("destroy")?;
    let mut planned = engine.plan(&stack, true).await?;
    common::price_plan(&stack, &mut planned.plan);
    execute(&engine, planned, &args.run, &lock, "Destroy").await
}
