//! `infra output`: the stack's outputs, from recorded state.

use crate::model::Ref;

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;

/// Show the stack's outputs (instance id, private IP, ...) from recorded state.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print the outputs as a JSON object.
    #[arg(long)]
    pub json: bool,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack(&args.stack)?;
    let store = common::store(&stack);
    let state = store.load()?;
    let lookup = |r: &Ref| state.attr(r);
    let outputs = stack.outputs.iter().map(|(k, v)| (k.clone(), v.resolve(&lookup))).collect();
    if args.json {
        common::print_json(&crate::render::outputs_json(&outputs));
    } else {
        common::print(&crate::render::outputs_text(&outputs));
    }
    Ok(Exit::Ok)
}
