//! Where a command's stack comes from: a stack file (`stacks/<name>.toml`);
//! the program this process is (a stack program's `main` running the command
//! line, [`crate::run`]); or a program the stack file names
//! (`[stack] program`), run to print its declaration as JSON, as Pulumi's
//! engine runs a language host. However declared, the stack is validated
//! before any AWS call.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::common::{StackArgs, cwd};
use crate::config::{Extras, Sources};
use crate::model::Stack;
use crate::program::{Ctx, DeclareFn, seam};

/// The declaration of the program this process is, if it is one.
static PROGRAM: OnceLock<Box<DeclareFn>> = OnceLock::new();

/// Makes this process a stack program: its stacks are what `declare` declares.
pub fn set_program(declare: Box<DeclareFn>) {
    let _ = PROGRAM.set(declare);
}

/// Loads and validates the selected stack. No AWS call is made.
pub fn load_stack(args: &StackArgs) -> anyhow::Result<Stack> {
    load(args, &Sources::process("."))
}

/// [`load_stack`] for commands that only read the declaration (`cost`,
/// `graph`): a secret read from an unset environment variable stands as a
/// placeholder, so that pricing a stack needs none of its passwords.
pub fn load_stack_without_secrets(args: &StackArgs) -> anyhow::Result<Stack> {
    let sources = Sources {
        dir: ".".into(),
        env: Box::new(|name| Some(std::env::var(name).unwrap_or_else(|_| "[not read]".into()))),
    };
    load(args, &sources)
}

fn load(args: &StackArgs, sources: &Sources) -> anyhow::Result<Stack> {
    let (name, path) = select(args, PROGRAM.get().is_some())?;
    let (file, extras) = settings(&path, sources)?;
    let declared = match (PROGRAM.get(), &extras.program) {
        (Some(declare), _) => declare_here(declare.as_ref(), &name, &path, &extras)?,
        (None, Some((command, timeout))) => run_program(command, Duration::from_secs(*timeout), &name)?,
        (None, None) => return Ok(file),
    };
    Ok(crate::program::complete(declared, file, &extras)?)
}

/// The stack this process declares, as it crosses the seam: secrets by name.
pub fn declared_by_program(args: &StackArgs) -> anyhow::Result<Stack> {
    let Some(declare) = PROGRAM.get() else {
        bail!("`declare` prints a stack program's declaration; `infra` itself declares none (try `infra plan`)");
    };
    let (name, path) = select(args, true)?;
    // Secrets cross the seam by name: their values are `infra`'s to read, and
    // a program run by `infra` is not given the variables they come from.
    let sources = Sources { dir: ".".into(), env: Box::new(|_| Some("[not read]".into())) };
    let (_, extras) = settings(&path, &sources)?;
    declare_here(declare.as_ref(), &name, &path, &extras)
}

/// The stack's name and its file's path. A program's stack needs no file.
fn select(args: &StackArgs, program: bool) -> anyhow::Result<(String, PathBuf)> {
    let names = match crate::config::list_stacks(Path::new(".")) {
        Ok(names) => names,
        Err(_) if program => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let name = match (&args.stack, names.as_slice()) {
        (Some(name), _) => name.clone(),
        (None, [only]) => only.clone(),
        (None, []) if program => bail!("name the stack this program declares with --stack (dev, prod, ...)"),
        (None, []) => bail!("no stack found: expected a file stacks/<name>.toml in {}", cwd()),
        (None, many) => bail!("several stacks found, choose one with --stack: {}", many.join(", ")),
    };
    let path = Path::new("stacks").join(format!("{name}.toml"));
    if !program && !path.exists() {
        let known = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        bail!("no stack `{name}`: {} does not exist (stacks: {known})", path.display());
    }
    Ok((name, path))
}

/// The stack file and what it gives a program; an absent file (a program's
/// stack may have none) gives nothing.
fn settings(path: &Path, sources: &Sources) -> anyhow::Result<(Stack, Extras)> {
    if !path.exists() {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        return Ok((Stack::new(name), Extras::default()));
    }
    Ok(crate::config::load_file_extras(path, sources)?)
}

/// Runs this process's declaration for the stack `name`.
fn declare_here(declare: &DeclareFn, name: &str, path: &Path, extras: &Extras) -> anyhow::Result<Stack> {
    let mut ctx = Ctx::new(name, extras.config.clone(), path);
    // A panic's message is on standard error already (the default hook).
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| declare(&mut ctx)))
        .map_err(|_| anyhow::anyhow!("the program panicked declaring stack `{name}`; its message is above"))?
        .with_context(|| format!("the program could not declare stack `{name}`"))?;
    Ok(ctx.into_stack())
}

/// The most a stack's program may print: a declaration is far smaller, and a
/// program printing without end must not exhaust memory.
pub const PROGRAM_OUTPUT_LIMIT: u64 = 64 * 1024 * 1024;

/// Whether the variable `name` of this process reaches a stack's program: what
/// a shell and a Rust build need (`PATH`, `HOME`, `TMPDIR`, `USER`, `LANG`,
/// `LC_*`, `TERM`, `CARGO_*`, `RUSTUP_*`, `RUSTC*`, `RUST_BACKTRACE`) and
/// nothing else, so that no credential does: not `AWS_*`, not
/// `INFRA_STATE_KEY`/`INFRA_STATE_PASSPHRASE`, not the passwords secrets are
/// read from (a program refers to a secret as `${secret.NAME}`, and `infra`
/// reads it). A Rust-toolchain variable that names a token or credential
/// (`CARGO_REGISTRY_TOKEN`, ...) is kept back too.
pub fn passed_to_program(name: &str) -> bool {
    let fixed = ["PATH", "HOME", "TMPDIR", "USER", "LANG", "TERM", "RUST_BACKTRACE"];
    let toolchain = ["CARGO_", "RUSTUP_", "RUSTC"].iter().any(|p| name.starts_with(p));
    let secret = ["TOKEN", "CREDENTIAL", "PASSWORD", "SECRET"].iter().any(|w| name.contains(w));
    fixed.contains(&name) || name.starts_with("LC_") || (toolchain && !secret)
}

/// Runs `command declare --stack NAME` (through `sh -c`) and reads the stack
/// it prints, within `timeout` and [`PROGRAM_OUTPUT_LIMIT`]. Its environment
/// is cleared but for what [`passed_to_program`] keeps; the stack's name is
/// its only input besides its own files. Its standard error is the user's to
/// see.
fn run_program(command: &str, timeout: Duration, name: &str) -> anyhow::Result<Stack> {
    use std::os::unix::process::CommandExt;
    let line = format!("{command} declare --stack '{}'", name.replace('\'', r"'\''"));
    let mut child = Command::new("sh")
        .args(["-c", &line])
        .env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| k.to_str().is_some_and(passed_to_program)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group, so that a timeout stops what it started too.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start the stack's program `{command}`"))?;
    let Some(stdout) = child.stdout.take() else { bail!("the stack's program `{command}` has no output to read") };
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        // One byte past the limit tells that it was passed; the pipe is then
        // closed, so a program printing without end stops there.
        stdout.take(PROGRAM_OUTPUT_LIMIT + 1).read_to_end(&mut text).map(|_| text)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the stack's program `{command}` did not declare stack `{name}` within {} s \
                 (`program_timeout` in [stack] sets another limit); it was stopped",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Whatever it left running (holding its output open) goes with it.
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
    let text = reader.join().map_err(|_| anyhow::anyhow!("reading the program's output failed"))??;
    if text.len() as u64 > PROGRAM_OUTPUT_LIMIT {
        bail!(
            "the stack's program `{command}` printed more than {} MiB declaring stack `{name}`; a declaration is far smaller",
            PROGRAM_OUTPUT_LIMIT / (1024 * 1024)
        );
    }
    if !status.success() {
        bail!("the stack's program `{command}` failed ({status}) declaring stack `{name}`; its messages are above");
    }
    let text = String::from_utf8(text)
        .map_err(|_| anyhow::anyhow!("the stack's program `{command}` printed text that is not UTF-8"))?;
    let stack =
        seam::from_json(&text).with_context(|| format!("the stack's program `{command}` printed no stack `{name}`"))?;
    if stack.name != name {
        bail!("the stack's program `{command}` declared stack `{}` when asked for `{name}`", stack.name);
    }
    Ok(stack)
}
