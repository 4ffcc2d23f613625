//! `infra unlock`: remove a stack's lock that no running process holds, or
//! (with an S3 backend) one left by a machine that vanished, without waiting
//! for its lease to lapse.

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;

/// Remove the stack's lock.
///
/// A local lock's holder releases it when it exits, however it exits; a lock a
/// running `infra` holds is refused here. An S3 backend's lock outlives a
/// holder that was killed or whose machine vanished (a CI runner) until its
/// lease lapses (60 s, or INFRA_LOCK_LEASE_SECS), when the next command takes
/// it over by itself; to go on sooner, remove it once you know that holder is
/// gone. The command that met the lock names its id.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The lock's id, as the error about it says.
    #[arg(value_name = "LOCK_ID")]
    pub id: String,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack(&args.stack)?;
    let store = common::store(&stack);
    let holder = store.unlock(&args.id)?;
    common::print(&format!("Removed the lock of stack `{}`, held by {holder}.\n", stack.name));
    Ok(Exit::Ok)
}
