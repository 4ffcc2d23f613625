//! Build script: the commit `infra --version` names (`git rev-parse --short=12
//! HEAD`; `unknown` outside a git checkout or without git).

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|hash| !hash.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=INFRA_COMMIT={commit}");
    // Run again when HEAD moves: a checkout changes .git/HEAD, a commit the
    // branch's ref (loose, or packed). A path that does not exist is left out:
    // cargo would run the script again on every build.
    println!("cargo:rerun-if-changed=build.rs");
    let head = std::fs::read_to_string(".git/HEAD").unwrap_or_default();
    let reference = head.trim().strip_prefix("ref: ").map(|r| format!(".git/{r}"));
    for path in [Some(".git/HEAD".to_string()), reference, Some(".git/packed-refs".to_string())].into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
