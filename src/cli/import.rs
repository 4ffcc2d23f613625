//! `infra import`: adopt an existing AWS resource (one made in the console,
//! say) into state as a declared resource.

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;

/// Record an existing AWS resource as a resource the stack declares.
///
/// Its kind's provider reads it by id; the next plan shows only how it differs
/// from the declaration. The id is the cloud id (`sg-...`, `vol-...`, a role or
/// bucket name); docs/resources.md gives the form for kinds whose id is
/// composite.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The resource's name in the stack file.
    #[arg(value_name = "RESOURCE")]
    pub name: String,
    /// Its id in AWS.
    #[arg(value_name = "ID")]
    pub id: String,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack(&args.stack)?;
    let engine = common::engine(&stack).await;
    let _lock = engine.lock("import")?;
    let recorded = engine.import(&stack, &args.name, &args.id).await?;
    common::print(&format!(
        "Imported {} ({} {}) into the state of stack `{}`; `infra plan` shows how it differs from the stack file.\n",
        args.name, recorded.kind, recorded.id, stack.name
    ));
    Ok(Exit::Ok)
}
