//! `infra completions`, `infra man` and `infra schema`: the command line
//! described for shells and for `man`, generated from the same clap definition
//! the parser uses, and the stack file described for editors.

use std::io::Write;

use clap::CommandFactory;

use super::{Cli, Exit};

/// Print the completion script for a shell.
///
/// Commands, options and their fixed values complete; stack and resource names
/// do not (clap_complete's dynamic completion is not stable yet).
///
/// bash: `infra completions bash > ~/.local/share/bash-completion/completions/infra`;
/// zsh: `infra completions zsh > "${fpath[1]}/_infra"`;
/// fish: `infra completions fish > ~/.config/fish/completions/infra.fish`;
/// PowerShell: `infra completions powershell | Out-String | Invoke-Expression`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub async fn completions(args: CompletionsArgs) -> anyhow::Result<Exit> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "infra", &mut out);
    write_out(&out)
}

/// Print the manual page (roff).
///
/// `infra man > infra.1; man ./infra.1`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {}

pub async fn man(_: ManArgs) -> anyhow::Result<Exit> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    write_out(&out)
}

/// Print the JSON Schema of stack files, for editors.
///
/// Editors that run the TOML language server taplo (VS Code's Even Better
/// TOML, Zed, Helix, Neovim) complete and check stack files with it: save it
/// (`infra schema > stack.schema.json`) and name it in the project's
/// `.taplo.toml`, or in a `#:schema stack.schema.json` line at the top of a
/// stack file. The repository keeps a copy as docs/stack.schema.json.
#[derive(clap::Args, Debug)]
pub struct SchemaArgs {}

pub async fn schema(_: SchemaArgs) -> anyhow::Result<Exit> {
    let text = serde_json::to_string_pretty(&crate::config::schema::stack_file())? + "\n";
    write_out(text.as_bytes())
}

fn write_out(bytes: &[u8]) -> anyhow::Result<Exit> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(Exit::Ok)
}
