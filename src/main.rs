//! The `infra` command line.

fn main() -> std::process::ExitCode {
    infra::cli::main()
}
