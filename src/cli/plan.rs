//! `infra plan`: what would change, and why.

use super::Exit;
use super::common::{self, StackArgs};

/// Show what `apply` would change, without changing anything.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when there are changes, 0 when there are none, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = common::load_stack(&args.stack)?;
    let engine = common::engine(&stack).await;
    let planned = engine.plan(&stack, false).await?;
    if args.json {
        common::print_json(&infra::render::plan_json(&planned.plan));
    } else {
        for name in &planned.adopted {
            common::print(&format!("{name}: found by its tags, will be adopted into state\n"));
        }
        common::print(&infra::render::plan_text(&planned.plan));
    }
    Ok(if args.detailed_exitcode && planned.plan.has_changes() { Exit::Changes } else { Exit::Ok })
}
