//! `infra state`: look at and edit recorded state, never AWS resources. Edits
//! hold the stack's lock and write the state with its serial incremented;
//! `push` and `pull` move it between local files and the stack's backend.

use crate::state::{Recorded, Store};
use serde_json::json;

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;

/// Look at or edit the recorded state (no AWS call).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum StateCommand {
    /// List the recorded resources: name, type, cloud id.
    List {
        #[command(flatten)]
        stack: StackArgs,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show one recorded resource: its id, properties and outputs (secrets as [secret]).
    Show {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(value_name = "RESOURCE")]
        name: String,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Forget resources: state no longer records them, and AWS keeps them.
    /// A later plan adopts one still declared by its tags, or creates it.
    Rm {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(value_name = "RESOURCE", required = true)]
        names: Vec<String>,
    },
    /// Rename a recorded resource (after renaming its block in the stack file):
    /// the same cloud resource under the new name, not a replacement.
    Mv {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(value_name = "OLD")]
        old: String,
        #[arg(value_name = "NEW")]
        new: String,
    },
    /// Copy the local state (state/<STACK>.json) to the stack's [backend],
    /// after adding the backend to the stack file. Refuses a backend state of
    /// another lineage or with a newer serial.
    Push {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Copy the state in the stack's [backend] to state/<STACK>.json, before
    /// removing the backend from the stack file. Refuses a local state of
    /// another lineage or with a newer serial.
    Pull {
        #[command(flatten)]
        stack: StackArgs,
    },
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    match args.command {
        StateCommand::List { stack, json } => list(&stack, json),
        StateCommand::Show { stack, name, json } => show(&stack, &name, json),
        StateCommand::Rm { stack, names } => rm(&stack, &names),
        StateCommand::Mv { stack, old, new } => mv(&stack, &old, &new),
        StateCommand::Push { stack } => copy(&stack, Direction::Push),
        StateCommand::Pull { stack } => copy(&stack, Direction::Pull),
    }
}

fn store(args: &StackArgs) -> anyhow::Result<Store> {
    Ok(common::store(&stacks::load_stack(args)?))
}

enum Direction {
    Push,
    Pull,
}

/// `state push` and `state pull`, under the locks of both places.
fn copy(args: &StackArgs, direction: Direction) -> anyhow::Result<Exit> {
    let remote = store(args)?;
    if !remote.is_remote() {
        anyhow::bail!(
            "stack `{}` declares no [backend]: its state is {} already (add a [backend.s3] table to the stack file first)",
            remote.stack(),
            remote.path().display()
        );
    }
    let local = remote.local();
    let (from, to, command) = match direction {
        Direction::Push => (&local, &remote, "state push"),
        Direction::Pull => (&remote, &local, "state pull"),
    };
    let _locks = (remote.lock(command)?, local.lock(command)?);
    let state = crate::state::copy(from, to)?;
    let mut text = format!(
        "Copied the state of stack `{}` ({} resources) from {} to {} (serial {}).\n",
        remote.stack(),
        state.resources.len(),
        from.path().display(),
        to.path().display(),
        state.serial
    );
    text.push_str(match direction {
        Direction::Push => "The stack reads its state from the backend now; the local file is left as it was.\n",
        Direction::Pull => "Remove the [backend] table from the stack file to use the local file.\n",
    });
    common::print(&text);
    Ok(Exit::Ok)
}

fn list(args: &StackArgs, as_json: bool) -> anyhow::Result<Exit> {
    let state = store(args)?.load()?;
    if as_json {
        let rows: Vec<_> = state
            .resources
            .iter()
            .map(|(name, r)| json!({ "resource": name, "type": r.kind.type_name(), "id": r.id }))
            .collect();
        common::print_json(&json!(rows));
        return Ok(Exit::Ok);
    }
    let width = state.resources.keys().map(String::len).max().unwrap_or(0);
    let kind_width = state.resources.values().map(|r| r.kind.type_name().len()).max().unwrap_or(0);
    let mut text = String::new();
    for (name, r) in &state.resources {
        text.push_str(&format!("{name:width$}  {:kind_width$}  {}\n", r.kind.type_name(), r.id));
    }
    if text.is_empty() {
        text.push_str("State records no resources.\n");
    }
    common::print(&text);
    Ok(Exit::Ok)
}

fn show(args: &StackArgs, name: &str, as_json: bool) -> anyhow::Result<Exit> {
    let store = store(args)?;
    let state = store.load()?;
    let r = state.recorded(store.stack(), name)?;
    if as_json {
        common::print_json(&shown_json(name, r));
    } else {
        common::print(&shown_text(name, r));
    }
    Ok(Exit::Ok)
}

fn shown_json(name: &str, r: &Recorded) -> serde_json::Value {
    let map = |props: &crate::model::Props| -> serde_json::Map<String, serde_json::Value> {
        props.iter().map(|(k, v)| (k.clone(), crate::render::value_json(v))).collect()
    };
    json!({
        "resource": name,
        "type": r.kind.type_name(),
        "id": r.id,
        "depends_on": r.depends_on,
        "properties": map(&r.props),
        "outputs": map(&r.outputs),
    })
}

fn shown_text(name: &str, r: &Recorded) -> String {
    let mut text = format!("{name}  {}  ({})\n", r.kind.type_name(), r.id);
    if !r.depends_on.is_empty() {
        text.push_str(&format!("  depends on: {}\n", r.depends_on.join(", ")));
    }
    for (title, props) in [("properties", &r.props), ("outputs", &r.outputs)] {
        text.push_str(&format!("  {title}:\n"));
        let width = props.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in props {
            text.push_str(&format!("    {k:width$} = {}\n", crate::render::inline(v)));
        }
    }
    text
}

fn rm(args: &StackArgs, names: &[String]) -> anyhow::Result<Exit> {
    let store = store(args)?;
    let _lock = store.lock("state rm")?;
    let mut state = store.load()?;
    let mut text = String::new();
    for name in names {
        let r = state.forget(store.stack(), name)?;
        text.push_str(&format!("Forgot {name} ({} {}); AWS keeps it.\n", r.kind.type_name(), r.id));
    }
    store.save(&mut state)?;
    text.push_str(&format!("State of stack `{}` written (serial {}).\n", store.stack(), state.serial));
    common::print(&text);
    Ok(Exit::Ok)
}

fn mv(args: &StackArgs, old: &str, new: &str) -> anyhow::Result<Exit> {
    let store = store(args)?;
    let _lock = store.lock("state mv")?;
    let mut state = store.load()?;
    state.rename(store.stack(), old, new)?;
    store.save(&mut state)?;
    common::print(&format!(
        "Renamed {old} to {new} in the state of stack `{}` (serial {}).\n",
        store.stack(),
        state.serial
    ));
    Ok(Exit::Ok)
}
