//! `infra drift`: the check a CI job runs to catch changes made behind infra's back.

use super::Exit;
use super::common::{self, Format, StackArgs};
use super::stacks;

/// Compare live AWS with the recorded state: exit 0 in sync, 2 drifted, 1 error.
///
/// Reports each drifted property with its recorded and live values, resources
/// deleted outside infra, and resources tagged as the stack's that its state
/// does not record. Properties named in a resource's `ignore_changes` are not
/// reported.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack(&args.stack)?;
    let engine = common::engine(&stack).await;
    let report = engine.drift(&stack).await?;
    match args.format {
        Format::Json => common::print_json(&crate::render::drift_json(&report)),
        Format::Markdown => common::print(&crate::render::drift_markdown(&report)),
        Format::Text => common::print(&crate::render::drift_report_text(&report)),
    }
    Ok(if report.is_clean() { Exit::Ok } else { Exit::Changes })
}
