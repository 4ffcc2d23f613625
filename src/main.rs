//! The `infra` command line.

/// mimalloc: a plan builds and drops many small maps and strings, and under
/// the system allocator that took about a quarter of a large plan's CPU time
/// (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    infra::cli::main()
}
