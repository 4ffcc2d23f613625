//! Every stack file in `tests/fixtures/bad/` fails to load, and its error, as a
//! user sees it, matches the golden file beside it (`<name>.expected`).
//! `UPDATE_GOLDEN=1 cargo test --test config_errors` rewrites the golden files.

use std::fs;
use std::path::{Path, PathBuf};

const DIR: &str = "tests/fixtures/bad";

fn fixtures(ext: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(DIR)
        .expect("the fixtures directory exists")
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths
}

#[test]
fn each_bad_stack_file_fails_with_its_golden_error() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    let stacks = fixtures("toml");
    assert!(stacks.len() >= 15, "expected the bad fixtures in {DIR}");
    for stack in &stacks {
        // A relative path, so that the file names in the output are stable.
        let shown = match infra::config::load_file(Path::new(stack)) {
            Ok(_) => "(loaded without an error)\n".to_string(),
            Err(e) => {
                assert!(e.line >= 1, "{}: the error has no line: {e}", stack.display());
                format!("{e}\n")
            }
        };
        let golden = stack.with_extension("expected");
        if update {
            fs::write(&golden, &shown).expect("the golden file is writable");
            continue;
        }
        match fs::read_to_string(&golden) {
            Ok(expected) if expected == shown => {}
            Ok(expected) => failures.push(format!("{}:\n--- expected\n{expected}--- actual\n{shown}", stack.display())),
            Err(e) => failures.push(format!("{}: {e} (run with UPDATE_GOLDEN=1)", golden.display())),
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_golden_file_has_its_fixture() {
    for golden in fixtures("expected") {
        assert!(golden.with_extension("toml").is_file(), "{} has no fixture", golden.display());
    }
}
