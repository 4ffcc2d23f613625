//! `infra plan`: what would change, and why.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::Exit;
use super::common::{self, Format, StackArgs};

/// Show what `apply` would change, without changing anything.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print the plan as JSON (the same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Exit 2 when there are changes (from the stack file or from drift), 0 when
    /// there are none, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the exact plan to FILE, for `infra apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Leave out what the plan does to the monthly bill.
    #[arg(long)]
    pub no_cost: bool,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = common::load_stack(&args.stack)?;
    common::enforce_checks(&stack)?;
    let engine = common::engine(&stack).await;
    let mut planned = engine.plan(&stack, false).await?;
    if !args.no_cost {
        common::price_plan(&stack, &mut planned.plan);
    }
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Json => common::print_json(&crate::render::plan_json(&planned.plan)),
        Format::Markdown => common::print(&crate::render::plan_markdown(&planned.plan)),
        Format::Text => {
            for name in &planned.adopted {
                common::print(&format!(
                    "{name}: made by an earlier run but not in state; found in AWS, it will be recorded\n"
                ));
            }
            common::print(&crate::render::plan_text(&planned.plan));
        }
    }
    if let Some(out) = &args.out {
        if !planned.adopted.is_empty() {
            bail!(
                "not saving the plan: {} must first be adopted into state by `infra apply`",
                planned.adopted.join(", ")
            );
        }
        std::fs::write(out, engine.saved_plan(&planned.plan)?)
            .with_context(|| format!("writing the plan to {}", out.display()))?;
        eprintln!("Saved the plan to {}; apply exactly it with `infra apply {}`.", out.display(), out.display());
    }
    Ok(if args.detailed_exitcode && planned.plan.has_changes() { Exit::Changes } else { Exit::Ok })
}
