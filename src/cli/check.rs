//! `infra check`: the policy checks alone.

use anyhow::bail;

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;

/// Run the policy checks on the stack file, without AWS.
///
/// docs/checks.md lists them (ports open to the whole internet, IAM wildcards
/// and trust, S3, IMDSv1, Elastic Beanstalk's default group, CodeBuild, secrets
/// in plain text, the bundle's ports against the groups). A finding is an error
/// unless the resource allows it with a reason (`allow = { public_data_port =
/// "why" }`). `plan` and `apply` run the same checks first.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack(&args.stack)?;
    let findings = common::findings(&stack)?;
    let mut text = String::new();
    for f in &findings {
        match &f.allowed {
            Some(reason) => {
                text.push_str(&format!("allowed  {}: {}: {} (reason: {reason})\n", f.resource, f.check, f.message))
            }
            None => text.push_str(&format!("FAILED   {}: {}: {}\n", f.resource, f.check, f.message)),
        }
    }
    let failed = crate::check::violations(&findings).len();
    if failed > 0 {
        common::print(&text);
        bail!("{failed} policy check(s) failed in stack `{}`", stack.name);
    }
    text.push_str(&format!(
        "Stack `{}` passes the policy checks ({} check(s), {} allowed finding(s)).\n",
        stack.name,
        crate::check::CHECKS.len(),
        findings.len()
    ));
    common::print(&text);
    Ok(Exit::Ok)
}
