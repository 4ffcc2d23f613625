//! The command line: arguments, then an operation of the engine, then rendering.
//! Each command is a thin module: its clap arguments and an `exec`. The `infra`
//! binary runs it on stack files; a stack program runs the same through
//! [`crate::run`], its declaration standing in for the file's.

mod apply;
mod backend;
mod check;
mod common;
mod cost;
mod declare;
mod destroy;
mod drift;
mod graph;
mod import;
mod output;
mod plan;
mod policy;
mod progress;
mod refresh;
mod shell;
mod stacks;
mod state;
mod unlock;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Infrastructure as code for AWS.
///
/// A stack is declared in `stacks/<name>.toml`; its recorded state lives in
/// `state/<name>.json`, or in the S3 bucket its `[backend]` names. `infra plan` shows what would change, `infra apply`
/// makes it so, `infra destroy` removes everything the stack owns.
///
/// AWS credentials and region come from the standard AWS chain (environment,
/// profile, SSO, instance role); `AWS_ENDPOINT_URL` points every call elsewhere,
/// such as a local emulator.
///
/// Exit codes: 0 success (or no changes), 1 error, 2 changes present
/// (`plan --detailed-exitcode`) or drift found (`drift`).
#[derive(Parser, Debug)]
#[command(name = "infra", version = VERSION, max_term_width = 100)]
pub struct Cli {
    /// Run as if started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,

    /// After the command, print the AWS API calls it made (by operation), its
    /// wall time and its peak memory to standard error.
    #[arg(long, global = true)]
    pub stats: bool,

    /// After the command, write the same statistics as JSON to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub stats_json: Option<std::path::PathBuf>,

    /// After the command, draw its run in FILE.svg (any browser opens it), or
    /// write the same as data to FILE.json: a lane per resource, a bar per AWS
    /// call, the waits between polls, and the critical path, the chain of
    /// calls and waits that set the wall time.
    #[arg(long, global = true, value_name = "FILE")]
    pub timeline: Option<std::path::PathBuf>,

    /// Load a state older than one this machine has already read or written
    /// (an old copy put back on purpose). Without it, such a state is refused.
    #[arg(long, global = true)]
    pub allow_rollback: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Plan(plan::Args),
    Check(check::Args),
    Apply(apply::Args),
    Destroy(destroy::Args),
    Output(output::Args),
    Drift(drift::Args),
    Refresh(refresh::Args),
    Import(import::Args),
    State(state::Args),
    Unlock(unlock::Args),
    Backend(backend::Args),
    Cost(cost::Args),
    Graph(graph::Args),
    Policy(policy::Args),
    Completions(shell::CompletionsArgs),
    Man(shell::ManArgs),
    Schema(shell::SchemaArgs),
    #[command(hide = true)]
    Declare(declare::Args),
}

/// `infra --version`: the crate's version and the commit it was built from
/// (build.rs; `unknown` outside a git checkout).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("INFRA_COMMIT"), ")");

/// What a command asks the process to exit with.
pub enum Exit {
    Ok,
    Changes,
}

/// `infra`'s `main`: the command line on stack files.
pub fn main() -> ExitCode {
    main_with(None)
}

/// The command line, with the stacks declared by `program` when one is given
/// (a stack program's `main`, through [`crate::run`]).
pub fn main_with(program: Option<Box<crate::program::DeclareFn>>) -> ExitCode {
    if let Some(declare) = program {
        stacks::set_program(declare);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            };
        }
    };
    if let Some(dir) = &cli.dir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        common::print_error(&anyhow::anyhow!("cannot change to directory {}: {e}", dir.display()));
        return ExitCode::from(1);
    }
    if let Some(name) = empty_endpoint_variable() {
        common::print_error(&anyhow::anyhow!(
            "{name} is set but empty: unset it to reach AWS, or set it to the endpoint's URL"
        ));
        return ExitCode::from(1);
    }
    common::allow_rollback(cli.allow_rollback);
    if let Some(path) = &cli.timeline
        && !matches!(path.extension().and_then(|e| e.to_str()), Some("svg" | "json"))
    {
        common::print_error(&anyhow::anyhow!(
            "--timeline {}: name a .svg file (a picture) or a .json file (the data)",
            path.display()
        ));
        return ExitCode::from(1);
    }
    let command = cli.command;
    let title = format!("infra {}", format!("{command:?}").split('(').next().unwrap_or_default().to_lowercase());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            common::print_error(&anyhow::anyhow!("cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let started = std::time::Instant::now();
    let result = runtime.block_on(async {
        match command {
            Command::Plan(args) => plan::exec(args).await,
            Command::Check(args) => check::exec(args).await,
            Command::Apply(args) => apply::exec(args).await,
            Command::Destroy(args) => destroy::exec(args).await,
            Command::Output(args) => output::exec(args).await,
            Command::Drift(args) => drift::exec(args).await,
            Command::Refresh(args) => refresh::exec(args).await,
            Command::State(args) => state::exec(args).await,
            Command::Import(args) => import::exec(args).await,
            Command::Unlock(args) => unlock::exec(args).await,
            Command::Backend(args) => backend::exec(args).await,
            Command::Cost(args) => cost::exec(args).await,
            Command::Graph(args) => graph::exec(args).await,
            Command::Policy(args) => policy::exec(args).await,
            Command::Completions(args) => shell::completions(args).await,
            Command::Man(args) => shell::man(args).await,
            Command::Schema(args) => shell::schema(args).await,
            Command::Declare(args) => declare::exec(args).await,
        }
    });
    // Nothing the command left running matters now (an idle connection, a
    // read-only lookup, a plan made early and not used): the process exits
    // without waiting for the runtime's threads to wind down.
    runtime.shutdown_background();
    if let Some(path) = &cli.timeline
        && let Err(e) = common::write_timeline(path, &title)
    {
        common::print_error(&e);
        return ExitCode::from(1);
    }
    if cli.stats || cli.stats_json.is_some() {
        let stats = common::Stats::collect(started.elapsed());
        if cli.stats {
            stats.print();
        }
        if let Some(path) = &cli.stats_json
            && let Err(e) = stats.write_json(path)
        {
            common::print_error(&e);
            return ExitCode::from(1);
        }
    }
    match result {
        Ok(Exit::Ok) => ExitCode::SUCCESS,
        Ok(Exit::Changes) => ExitCode::from(2),
        Err(e) => {
            common::print_error(&e);
            ExitCode::from(1)
        }
    }
}

/// An endpoint variable (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) set
/// to nothing: the SDK would take it for an endpoint and fail deep inside.
fn empty_endpoint_variable() -> Option<String> {
    std::env::vars_os().find_map(|(name, value)| {
        let name = name.into_string().ok()?;
        (name.starts_with("AWS_ENDPOINT_URL") && value.to_string_lossy().trim().is_empty()).then_some(name)
    })
}
