//! `infra graph`: the stack's dependency graph.

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// Print the dependency graph, without AWS.
///
/// The graph of references and depends_on, each resource labelled with its
/// type; an edge runs from a resource to one that depends on it.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack_without_secrets(&args.stack)?;
    common::print(&match args.format {
        GraphFormat::Dot => crate::render::graph_dot(&stack),
        GraphFormat::Mermaid => crate::render::graph_mermaid(&stack),
    });
    Ok(Exit::Ok)
}
