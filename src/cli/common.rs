//! What the commands share: finding and loading the stack, connecting the
//! engine, confirmations, and printing errors.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anstyle::{AnsiColor, Style};
use anyhow::{Context, bail};

use crate::engine::{Engine, Show};
use crate::model::Stack;
use crate::provider::aws_config;

/// Selects the stack a command acts on.
#[derive(clap::Args, Debug, Clone)]
pub struct StackArgs {
    /// The stack, as in stacks/<STACK>.toml; may be left out when there is only one.
    #[arg(short, long, value_name = "STACK")]
    pub stack: Option<String>,
}

/// Where state files live, relative to the project directory.
pub const STATE_DIR: &str = "state";

pub(super) fn cwd() -> String {
    std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| ".".into())
}

/// The call counts and limits of the engine this process made, for `--stats`.
static CALLS: std::sync::OnceLock<(crate::provider::CallStats, crate::provider::Limits)> = std::sync::OnceLock::new();

/// A plan as a command shows it: the text for stdout, ready as it is
/// ([`plan_for_stdout`]), and why it could not be priced.
pub struct Shown {
    pub text: String,
    pub not_priced: Option<String>,
}

impl Shown {
    /// A saved plan, shown as text (it was priced when it was made).
    pub fn saved(plan: &crate::plan::Plan) -> Shown {
        Shown { text: plan_for_stdout(plan, Format::Text, stdout_plain()), not_priced: None }
    }

    /// Prints the plan on stdout; a plan that could not be priced says so on
    /// stderr first, and goes on without its cost.
    pub fn print(&self) {
        if let Some(why) = &self.not_priced {
            eprintln!("Cost: not priced: {why}");
        }
        print_ready(&self.text);
    }
}

/// How a command shows a plan of `stack`: priced (what it changes of the
/// monthly bill) unless `priced` is false, rendered in `format`, made ready
/// for stdout. The engine runs it on the plan it makes (`Engine::plan_shown`,
/// `Engine::plan_to_apply`), on another thread for a first plan.
pub fn show_plan(stack: &Stack, format: Format, priced: bool) -> Show<Shown> {
    let plain = stdout_plain();
    let pricing = priced.then(|| (crate::cost::region_of(stack).map_err(|e| e.to_string()), stack.cost.usage.clone()));
    std::sync::Arc::new(move |plan: &mut crate::plan::Plan| {
        let not_priced = pricing.as_ref().and_then(|(region, usage)| {
            let delta = region.clone().and_then(|region| {
                let table = crate::cost::PriceTable::load().map_err(|e| e.to_string())?;
                crate::plan::cost::delta(plan, usage, &table, &region).map_err(|e| e.to_string())
            });
            match delta {
                Ok(delta) => {
                    plan.cost = Some(delta);
                    None
                }
                Err(why) => Some(why),
            }
        });
        Shown { text: plan_for_stdout(plan, format, plain), not_priced }
    })
}

/// A plan in `format`, as stdout takes it: what [`print`] would write of
/// text and markdown (their styles stripped when stdout is `plain`: see
/// [`stdout_plain`]), JSON as it is.
pub fn plan_for_stdout(plan: &crate::plan::Plan, format: Format, plain: bool) -> String {
    let text = match format {
        Format::Json => return json_text(&crate::render::plan_json(plan)),
        Format::Markdown => crate::render::plan_markdown(plan),
        Format::Text => crate::render::plan_text(plan),
    };
    if plain { anstream::adapter::strip_str(&text).to_string() } else { text }
}

/// Whether stdout shows no styles (`NO_COLOR`, not a terminal: anstream's
/// choice for it).
pub fn stdout_plain() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) == anstream::ColorChoice::Never
}

/// The store of a stack's state: its [backend], or `state/`.
pub fn store(stack: &Stack) -> crate::state::Store {
    crate::state::Store::for_stack(STATE_DIR, stack).allowing_rollback(ALLOW_ROLLBACK.get().copied().unwrap_or(false))
}

/// `--allow-rollback`, set once from the command line.
static ALLOW_ROLLBACK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Records `--allow-rollback` for every store the command opens.
pub fn allow_rollback(allow: bool) {
    let _ = ALLOW_ROLLBACK.set(allow);
}

/// The engine for a stack, configured from the standard AWS chain.
pub async fn engine(stack: &Stack) -> Engine {
    let config = aws_config(stack.region.as_deref()).await;
    with_store(stack, Engine::new(&config, Path::new(STATE_DIR), &stack.name))
}

/// [`engine`], for a stack that must first pass its policy checks
/// ([`enforce_checks`]). The SDK's set-up (its credentials chain, its TLS
/// roots) runs on another thread beside the checks: neither calls AWS, and a
/// stack that fails them gets no engine.
pub async fn checked_engine(stack: &Stack) -> anyhow::Result<Engine> {
    let region = stack.region.clone();
    let config = tokio::spawn(async move { aws_config(region.as_deref()).await });
    enforce_checks(stack)?;
    let config = config.await?;
    Ok(with_store(stack, Engine::new(&config, Path::new(STATE_DIR), &stack.name)))
}

/// The engine, with the stack's state store, its calls counted for `--stats`.
fn with_store(stack: &Stack, mut engine: Engine) -> Engine {
    engine.store = store(stack);
    let _ = CALLS.set((engine.stats.clone(), engine.limits.clone()));
    engine
}

/// What `--stats` reports: AWS calls by operation, wall time, peak memory;
/// `--stats-json` adds each call's span and what each service's limit did.
pub struct Stats {
    calls: std::collections::BTreeMap<String, u64>,
    timeline: crate::provider::stats::Trace,
    limits: std::collections::BTreeMap<&'static str, crate::provider::limit::LimitReport>,
    wall: std::time::Duration,
    peak_kib: u64,
}

impl Stats {
    pub fn collect(wall: std::time::Duration) -> Self {
        let (calls, timeline, limits) = match CALLS.get() {
            Some((stats, limits)) => (stats.snapshot(), stats.timeline(), limits.report()),
            None => Default::default(),
        };
        Stats { calls, timeline, limits, wall, peak_kib: crate::provider::stats::peak_rss_kib() }
    }

    fn totals(&self) -> (u64, u64) {
        let reads = self.calls.iter().filter(|(op, _)| crate::provider::stats::is_read(op)).map(|(_, n)| n).sum();
        let all: u64 = self.calls.values().sum();
        (reads, all - reads)
    }

    pub fn print(&self) {
        let (reads, writes) = self.totals();
        let mut err = anstream::stderr();
        let _ = writeln!(
            err,
            "\nstats: {:.3}s wall, {:.1} MiB peak memory, {} AWS calls ({reads} reads, {writes} mutating)",
            self.wall.as_secs_f64(),
            self.peak_kib as f64 / 1024.0,
            reads + writes
        );
        let width = self.calls.keys().map(String::len).max().unwrap_or(0);
        for (op, n) in &self.calls {
            let _ = writeln!(err, "  {op:width$}  {n:>6}");
        }
        if !self.timeline.calls.is_empty() {
            let path = crate::render::timeline::critical_path(&self.timeline);
            let _ = writeln!(err, "{}", crate::render::timeline::critical_path_line(&path));
            let floor = crate::render::timeline::floor(&self.timeline);
            let _ = writeln!(
                err,
                "floor: {} round trips in sequence that AWS forces: {}",
                floor.round_trips,
                floor.chain.join(" → ")
            );
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let (reads, writes) = self.totals();
        let doc = serde_json::json!({
            "wall_seconds": self.wall.as_secs_f64(),
            "peak_rss_kib": self.peak_kib,
            "calls": self.calls,
            "reads": reads,
            "mutating": writes,
            "concurrency": self.limits,
            "trace": self.timeline.calls,
            "waits": self.timeline.sleeps,
            "operations": self.timeline.ops,
            "critical_path": crate::render::timeline::critical_path(&self.timeline),
            "floor": crate::render::timeline::floor(&self.timeline),
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing statistics to {}", path.display()))
    }
}

/// Writes the timeline of this process's AWS calls: a picture for `.svg`,
/// the data for `.json` (`--timeline`).
pub fn write_timeline(path: &Path, title: &str) -> anyhow::Result<()> {
    let trace = CALLS.get().map(|(stats, _)| stats.timeline()).unwrap_or_default();
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => crate::render::timeline::svg(&trace, title),
        _ => serde_json::to_string_pretty(&crate::render::timeline::json(&trace))? + "\n",
    };
    std::fs::write(path, text).with_context(|| format!("writing the timeline to {}", path.display()))
}

/// Asks before a change: on a terminal, a typed `yes`; elsewhere, only `--yes`.
pub fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to continue without confirmation: standard input is not a terminal; pass --yes");
    }
    let mut out = anstream::stderr();
    write!(out, "{question} Only `yes` is accepted: ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("reading the answer")?;
    Ok(answer.trim() == "yes")
}

/// Prints an error and its causes to standard error.
pub fn print_error(e: &anyhow::Error) {
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let mut err = anstream::stderr();
    let message = e.to_string();
    let _ = writeln!(err, "{red}error:{red:#} {message}");
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        // Errors that wrap another often repeat its text; say each thing once.
        if !message.contains(&cause) {
            let _ = writeln!(err, "  caused by: {cause}");
        }
    }
}

/// Writes text (with styles, stripped when not a terminal or NO_COLOR is set).
pub fn print(text: &str) {
    let mut out = anstream::stdout();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes text made ready for stdout ([`plan_for_stdout`], [`json_text`]) as it is.
pub fn print_ready(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A JSON document, pretty, on its own line.
pub fn json_text(v: &serde_json::Value) -> String {
    format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default())
}

/// Writes a JSON document on its own line.
pub fn print_json(v: &serde_json::Value) {
    print_ready(&json_text(v));
}

/// How a report is printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// For people: aligned, coloured on a terminal.
    #[default]
    Text,
    /// For programs.
    Json,
    /// For a pull-request comment or a CI job summary.
    Markdown,
}

/// Every policy check's findings, with the ports the stack's bundles serve
/// read from the project's files. No AWS call is made.
pub fn findings(stack: &Stack) -> anyhow::Result<Vec<crate::check::Finding>> {
    let bundles = crate::compose::environment_bundles(stack, Path::new("."))?;
    Ok(crate::check::check(stack, &bundles))
}

/// Refuses a stack that fails a policy check it does not allow (before any AWS call).
pub fn enforce_checks(stack: &Stack) -> anyhow::Result<()> {
    let findings = findings(stack)?;
    let violations = crate::check::violations(&findings);
    if violations.is_empty() {
        return Ok(());
    }
    let list: Vec<String> =
        violations.iter().map(|f| format!("  - {}: {}: {}", f.resource, f.check, f.message)).collect();
    bail!(
        "stack `{}` fails {} policy check(s):\n{}\n(if this is intended, allow it on the resource with a reason: `allow = {{ {} = \"why\" }}`)",
        stack.name,
        violations.len(),
        list.join("\n"),
        violations[0].check
    )
}
