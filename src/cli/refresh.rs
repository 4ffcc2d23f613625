//! `infra refresh`: accept what AWS holds into recorded state.

use anyhow::bail;

use super::Exit;
use super::common::{self, StackArgs};

/// Accept live values into state: drifted properties take their live values and
/// resources deleted outside infra leave state. Shows what it accepts and asks
/// for confirmation like `apply`. Changes nothing in AWS.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(short, long)]
    pub yes: bool,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = common::load_stack(&args.stack)?;
    let engine = common::engine(&stack).await;
    let _lock = engine.lock("refresh")?;
    let (drift, mut state) = engine.refreshed_state(&stack).await?;
    if drift.is_empty() {
        common::print("No drift: state already matches AWS.\n");
        return Ok(Exit::Ok);
    }
    common::print(&infra::render::drift_text(&drift));
    let question = format!("\nAccept these live values into the state of stack `{}`?", stack.name);
    if !common::confirm(&question, args.yes)? {
        bail!("refresh cancelled; state was not changed");
    }
    engine.store.save(&mut state)?;
    common::print(&format!("State of stack `{}` updated (serial {}).\n", stack.name, state.serial));
    Ok(Exit::Ok)
}
