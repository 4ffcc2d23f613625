//! `infra policy`: the least-privilege IAM policy the stack's commands need.

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;
use crate::permissions::{self, For};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Commands {
    Plan,
    Drift,
    Apply,
    Destroy,
    All,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum PolicyFormat {
    /// The statements, each `*` resource with its reason as a comment.
    #[default]
    Text,
    /// The IAM policy document.
    Json,
}

/// Print the least-privilege IAM policy the stack's commands need.
///
/// From the declaration alone (no AWS call): the actions each kind's calls
/// need, on the stack's own ARNs, narrowed by its `infra:stack` tag where AWS
/// supports it, `*` only where AWS allows nothing narrower. `--for drift` and
/// `--for plan` are read-only.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The commands the policy is for.
    #[arg(long = "for", value_enum, default_value_t = Commands::Apply)]
    pub commands: Commands,
    #[arg(long, value_enum, default_value_t = PolicyFormat::Text)]
    pub format: PolicyFormat,
    /// The account the ARNs name; any account (`*`) when not given.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack_without_secrets(&args.stack)?;
    if let Some(account) = &args.account
        && (account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()))
    {
        anyhow::bail!("--account {account:?} is not an AWS account id (12 digits)");
    }
    let what = match args.commands {
        Commands::Plan => For::Plan,
        Commands::Drift => For::Drift,
        Commands::Apply => For::Apply,
        Commands::Destroy => For::Destroy,
        Commands::All => For::All,
    };
    let policy = permissions::policy(&stack, what, args.account.as_deref());
    match args.format {
        PolicyFormat::Json => {
            common::print_json(&policy.to_json());
            // The document stays a document; what goes beside it is said on stderr.
            for (arn, why) in &policy.beside {
                eprintln!("Beside this policy, attach the AWS managed policy {arn}: {why}.");
            }
        }
        PolicyFormat::Text => common::print(&policy.to_text(&stack.name, what)),
    }
    Ok(Exit::Ok)
}
