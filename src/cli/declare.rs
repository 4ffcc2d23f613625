//! `declare` (hidden): a stack program prints its declared stack as JSON, for
//! the `infra` that runs it (docs/programs.md).

use super::Exit;
use super::common::StackArgs;
use super::stacks;

/// Print the stack this program declares, as JSON (what `infra` reads from a
/// stack's `program`).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::declared_by_program(&args.stack)?;
    print!("{}", crate::program::seam::to_json(&stack)?);
    Ok(Exit::Ok)
}
