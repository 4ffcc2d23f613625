//! `infra backend`: set up the place a stack's state is shared in.

use crate::state::s3;

use super::Exit;
use super::common::{self, StackArgs};
use super::stacks;

/// Set up the stack's [backend].
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: BackendCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum BackendCommand {
    /// Create the stack's state bucket ([backend.s3]) if it does not exist, with
    /// versioning, default encryption (SSE-KMS with --kms-key-id, else SSE-S3),
    /// all public access blocked, a bucket policy denying requests without TLS
    /// and object ownership BucketOwnerEnforced. Safe to run again. An existing
    /// bucket without these settings is refused, naming them, unless --fix. A
    /// bucket another account owns is refused. The bucket is not a resource of
    /// the stack: no state records it.
    Bootstrap {
        #[command(flatten)]
        stack: StackArgs,
        /// Put the missing settings in place on an existing bucket (an existing
        /// bucket policy keeps its other statements).
        #[arg(long)]
        fix: bool,
        /// The KMS key (id, ARN or alias) the bucket encrypts with by default,
        /// with a bucket key; overrides `kms_key_id` in [backend.s3].
        #[arg(long, value_name = "KEY")]
        kms_key_id: Option<String>,
    },
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let BackendCommand::Bootstrap { stack, fix, kms_key_id } = args.command;
    let stack = stacks::load_stack(&stack)?;
    let Some(crate::model::Backend::S3 { bucket, region, expected_owner, kms_key_id: declared, .. }) = &stack.backend
    else {
        anyhow::bail!(
            "stack `{}` declares no [backend]: add a [backend.s3] table naming the bucket to stacks/{}.toml",
            stack.name,
            stack.name
        );
    };
    let region = region.as_deref().or(stack.region.as_deref());
    let at = s3::Location::new(bucket, "", "", region).owned_by(expected_owner.as_deref());
    let done = s3::bootstrap(at, kms_key_id.as_deref().or(declared.as_deref()), fix)?;
    let mut text =
        if done.created { format!("Created bucket `{bucket}`.\n") } else { format!("Bucket `{bucket}` exists.\n") };
    for setting in &done.set {
        text.push_str(&format!("  set      {setting}\n"));
    }
    for setting in &done.kept {
        text.push_str(&format!("  already  {setting}\n"));
    }
    text.push_str(&format!("Stack `{}` keeps its state there.\n", stack.name));
    common::print(&text);
    Ok(Exit::Ok)
}
