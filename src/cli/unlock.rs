//! `infra unlock`: remove a stack's lock file that no running process holds.

use super::Exit;
use super::common::{self, StackArgs};

/// Remove the stack's lock file. A lock's holder releases it when it exits,
/// however it exits; a lock a running `infra` holds is refused here. The error
/// of the command that met the lock names its id.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The lock's id, as the error about it says.
    #[arg(value_name = "LOCK_ID")]
    pub id: String,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = common::load_stack(&args.stack)?;
    let store = infra::state::Store::new(common::STATE_DIR, &stack.name);
    let holder = store.unlock(&args.id)?;
    common::print(&format!("Removed the lock of stack `{}`, held by {holder}.\n", stack.name));
    Ok(Exit::Ok)
}
