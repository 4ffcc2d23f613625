//! `infra cost`: what the stack costs a month, before anything exists.

use super::Exit;
use super::common::{self, Format, StackArgs};
use super::stacks;
use crate::cost::{self, PriceTable};

/// Price the stack, without AWS.
///
/// Each resource's monthly cost and its basis, from the declaration alone (no
/// AWS call), at the prices of the stack's region.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Price in REGION instead of the stack's (to compare regions).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Beside the stack, the managed services of its [cost.managed] table, and
    /// the difference a month and a year.
    #[arg(long)]
    pub compare: bool,
    /// First read the prices anew from the AWS Price List Query API (needs AWS
    /// credentials) into the cache later runs use.
    #[arg(long)]
    pub update_prices: bool,
}

pub async fn exec(args: Args) -> anyhow::Result<Exit> {
    let stack = stacks::load_stack_without_secrets(&args.stack)?;
    let region = match &args.region {
        Some(r) => r.clone(),
        None => cost::region_of(&stack)?,
    };
    let mut table = PriceTable::load()?;
    if args.update_prices {
        let config = crate::provider::aws_config(Some(crate::provider::pricing::API_REGION)).await;
        let today = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        table = crate::provider::pricing::update(&config, &table, &today[..10]).await?;
        let path = cost::prices::cache_path()
            .ok_or_else(|| anyhow::anyhow!("no cache directory: set HOME or XDG_CACHE_HOME"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, serde_json::to_string_pretty(&table)? + "\n")?;
        eprintln!("Prices read from the AWS Price List Query API into {}.", path.display());
    }
    if args.compare {
        let comparison = cost::compare(&stack, &table, &region)?;
        match args.format {
            Format::Json => common::print_json(&serde_json::to_value(&comparison)?),
            Format::Markdown => common::print(&crate::render::compare_markdown(&comparison)),
            Format::Text => common::print(&crate::render::compare_text(&comparison)),
        }
        return Ok(Exit::Ok);
    }
    let estimate = cost::estimate(&stack, &table, &region)?;
    match args.format {
        Format::Json => common::print_json(&serde_json::to_value(&estimate)?),
        Format::Markdown => common::print(&crate::render::cost_markdown(&estimate)),
        Format::Text => common::print(&crate::render::cost_text(&estimate)),
    }
    Ok(Exit::Ok)
}
