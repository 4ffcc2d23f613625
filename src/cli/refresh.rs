//! `infra refresh`: accept what AWS holds into recorded state.

use anyhow::bail;

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;

/// Accept live values into state, changing nothing in AWS.
///
/// Drifted properties take their live values and resources deleted outside
/// infra leave state. Shows what it accepts and asks for confirmation like
/// `apply`. Outputs (an instance's address) are read anew in any case.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(short, long)]
    pub yes: bool,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack(&args.stack)?;
    let engine = common::engine(&stack).await;
    let _lock = engine.lock("refresh")?;
    let crate::engine::RefreshedState { drift, mut state, outputs_changed } = engine.refreshed_state(&stack).await?;
    if drift.is_empty() {
        if !outputs_changed.is_empty() {
            // Outputs are AWS's (an address after Elastic Beanstalk replaced an
            // instance): read anew, not drift, so no question.
            engine.store.save(&mut state)?;
            common::print(&format!(
                "No drift. Outputs read anew from AWS: {} (serial {}).\n",
                outputs_changed.join(", "),
                state.serial
            ));
        } else {
            common::print("No drift: state already matches AWS.\n");
        }
        return Ok(Exit::Ok);
    }
    common::print(&crate::render::drift_text(&drift));
    let question = format!("\nAccept these live values into the state of stack `{}`?", stack.name);
    if !common::confirm(&question, args.yes)? {
        bail!("refresh cancelled; state was not changed");
    }
    engine.store.save(&mut state)?;
    common::print(&format!("State of stack `{}` updated (serial {}).\n", stack.name, state.serial));
    Ok(Exit::Ok)
}
