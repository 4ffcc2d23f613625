//! `infra apply`: reconcile AWS with the stack file.

use std::sync::Arc;

use crate::apply::{Interrupt, Options};
use crate::engine::{Engine, Planned};
use crate::state::Lock;
use anyhow::{Context, bail};

use super::Exit;
use super::common::{self, Format, Shown, StackArgs};
use super::progress;
use super::stacks;

/// Make the changes a plan shows, after confirmation.
///
/// Shows the plan, asks for confirmation, then makes the changes, recording
/// state after every step.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Apply exactly this saved plan (from `infra plan --out FILE`); refused
    /// when the state has changed since it was made.
    #[arg(value_name = "PLANFILE", conflicts_with_all = ["targets", "replace"])]
    pub plan: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub controls: super::plan::Controls,
    #[command(flatten)]
    pub run: RunArgs,
}

/// How a mutating command runs.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(short, long)]
    pub yes: bool,
    /// At most N operations and N AWS requests at once. Without it, every
    /// operation starts as soon as what it depends on is done, and each AWS
    /// service gets as many requests at once as its adaptive limit allows (50 at
    /// first, halved whenever AWS throttles, growing again while it does not).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub parallelism: Option<u16>,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = Arc::new(stacks::load_stack(&args.stack)?);
    let engine = common::checked_engine(&stack).await?;
    let lock = engine.lock("apply")?;
    let (planned, shown) = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let plan = engine.read_saved_plan(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let planned = engine.load_saved(&stack, plan)?;
            // The policy checks judge what the plan holds, before any AWS call.
            common::enforce_checks(&crate::engine::declared_by_plan(&stack, &planned.plan))
                .with_context(|| format!("{}: the saved plan's contents", path.display()))?;
            let shown = Shown::saved(&planned.plan);
            (planned, shown)
        }
        None => {
            let show = common::show_plan(&stack, Format::Text, true);
            engine.plan_to_apply(stack.clone(), &args.controls.request(), show).await?
        }
    };
    execute(&engine, planned, &shown, &args.run, &lock, "Apply").await
}

/// Shows the plan, confirms, executes it with progress, and reports.
pub async fn execute(
    engine: &Engine,
    mut planned: Planned,
    shown: &Shown,
    run: &RunArgs,
    lock: &Lock,
    verb: &str,
) -> anyhow::Result<Exit> {
    shown.print();
    if let Some(refusal) = planned.plan.refusal() {
        return Err(refusal.into());
    }
    if !planned.plan.has_changes() {
        if planned.refreshed {
            engine.store.save(&mut planned.state)?;
        }
        return Ok(Exit::Ok);
    }
    let question = format!("\n{verb} these changes to stack `{}`?", planned.plan.stack);
    if !common::confirm(&question, run.yes)? {
        bail!("{verb} cancelled; nothing was changed");
    }
    let reporter = Arc::new(progress::Reporter::new());
    let options = match run.parallelism {
        Some(n) => {
            engine.limits.set_cap(n.into());
            Options::with_parallelism(n.into())
        }
        None => Options::default(),
    };
    watch_ctrl_c(options.interrupt.clone(), lock.releaser());
    let started = std::time::Instant::now();
    let result = engine.apply(&mut planned, &options, reporter.clone()).await;
    reporter.finish();
    result?;
    let s = planned.plan.summary();
    let protections = match s.protection {
        0 => String::new(),
        n => format!(", {} set or lifted", crate::render::protections(n)),
    };
    common::print(&format!(
        "\n{verb} complete in {:.1}s: {} added, {} changed, {} replaced, {} destroyed{protections}.\n",
        started.elapsed().as_secs_f64(),
        s.create,
        s.update,
        s.replace,
        s.delete
    ));
    if !planned.plan.kept.is_empty() {
        common::print(&format!(
            "Kept, and still recorded in state: {} (protected, or a protected resource depends on it).\n",
            planned.plan.kept.join(", ")
        ));
    }
    if !planned.plan.targeted.is_empty() && !planned.plan.left_out.is_empty() {
        common::print(&format!(
            "Left out by --target: {}; a plan without --target shows their changes.\n",
            planned.plan.left_out.join(", ")
        ));
    }
    Ok(Exit::Ok)
}

/// The first Ctrl-C lets the operations in flight finish (and be recorded) but
/// starts no new one; the second stops at once, leaving pending records in
/// state for the next run to resolve.
fn watch_ctrl_c(interrupt: Interrupt, release: Box<dyn FnOnce() + Send>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        interrupt.set();
        eprintln!(
            "\ninterrupted: finishing the operations in flight, starting no new one (Ctrl-C again to stop at once)"
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopped; the next run resolves what was in flight");
            // As the kernel releases a local lock when the process exits.
            release();
            std::process::exit(130);
        }
    });
}
