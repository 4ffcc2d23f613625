//! `infra plan`: what would change, and why.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};

use super::Exit;
use super::common::{self, Format, StackArgs};
use super::stacks;

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
    #[command(flatten)]
    pub controls: Controls,
    /// Show only what `infra refresh` would accept into state (drift, and
    /// outputs AWS reports anew): its read-only counterpart, for CI. With
    /// --detailed-exitcode, exit 2 when it would accept anything.
    #[arg(long, conflicts_with_all = ["targets", "replace", "out"])]
    pub refresh_only: bool,
}

/// What `plan` and `apply` act on beyond the stack file.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Controls {
    /// Plan only RES and what it depends on (repeatable): a partial plan,
    /// which says so and lists the changes it leaves out.
    #[arg(long = "target", value_name = "RES")]
    pub targets: Vec<String>,
    /// Replace RES even though nothing forces it (repeatable), in its kind's
    /// order (create-before-delete where the kind needs it); refused for a
    /// protected resource.
    #[arg(long = "replace", value_name = "RES")]
    pub replace: Vec<String>,
}

impl Controls {
    pub fn request(&self) -> crate::plan::Request {
        crate::plan::Request { targets: self.targets.clone(), replace: self.replace.clone(), ..Default::default() }
    }
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = Arc::new(stacks::load_stack(&args.stack)?);
    let engine = common::checked_engine(&stack).await?;
    let format = if args.json { Format::Json } else { args.format };
    if args.refresh_only {
        let plan = engine.refresh_only_plan(&stack).await?;
        common::print_ready(&common::plan_for_stdout(&plan, format, common::stdout_plain()));
        return Ok(if args.detailed_exitcode && plan.has_changes() { Exit::Changes } else { Exit::Ok });
    }
    let show = common::show_plan(&stack, format, !args.no_cost);
    let (planned, shown) = engine.plan_shown(stack.clone(), &args.controls.request(), show).await?;
    shown.print();
    if let Some(refusal) = planned.plan.refusal() {
        return Err(refusal.into());
    }
    if let Some(out) = &args.out {
        if !planned.adopted.is_empty() {
            bail!(
                "not saving the plan: {} must first be adopted into state by `infra apply`",
                planned.adopted.join(", ")
            );
        }
        write_private(out, &engine.saved_plan(&planned.plan)?)
            .with_context(|| format!("writing the plan to {}", out.display()))?;
        eprintln!("Saved the plan to {}; apply exactly it with `infra apply {}`.", out.display(), out.display());
        if !engine.store.keyed() {
            eprintln!(
                "notice: no state key is set ({} or {}), so the plan carries no MAC: a change made to {} \
                 before it is applied goes unnoticed (apply still takes ids and protection from state and \
                 runs the policy checks again)",
                crate::secret::KEY_VAR,
                crate::secret::PASSPHRASE_VAR,
                out.display()
            );
        }
    }
    Ok(if args.detailed_exitcode && planned.plan.has_changes() { Exit::Changes } else { Exit::Ok })
}

/// Writes `text` to `path`, readable and writable by its owner only (0600,
/// whatever the umask, and an existing file is made so before it is written).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.set_len(0)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
