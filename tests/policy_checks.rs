//! Every policy check has a stack file in `tests/fixtures/checks/` named after
//! it that fails it, and the findings `infra check` prints for that file match
//! the golden file beside it (`<check>.expected`). docs/checks.md quotes them.
//! `UPDATE_GOLDEN=1 cargo test --test policy_checks` rewrites the golden files.

use std::fs;
use std::path::Path;

const DIR: &str = "tests/fixtures/checks";

/// The findings of a fixture as `infra check` prints them, one a line.
fn findings(stack_file: &Path) -> String {
    // Relative paths from the crate root: the fixtures name deploy/dev and themselves so.
    let stack = infra::config::load_file(stack_file).expect("the fixture loads");
    let bundles = infra::compose::environment_bundles(&stack, Path::new(".")).expect("the bundles read");
    infra::check::check(&stack, &bundles)
        .iter()
        .map(|f| format!("FAILED   {}: {}: {}\n", f.resource, f.check, f.message))
        .collect()
}

#[test]
fn each_check_fails_its_fixture_with_the_golden_findings() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for check in infra::check::CHECKS {
        let stack = Path::new(DIR).join(format!("{}.toml", check.name));
        assert!(stack.is_file(), "check `{}` has no fixture {}", check.name, stack.display());
        let shown = findings(&stack);
        assert!(
            shown.contains(&format!(": {}: ", check.name)),
            "{} does not fail `{}`:\n{shown}",
            stack.display(),
            check.name
        );
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
fn every_fixture_is_named_after_a_check() {
    for entry in fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        assert!(infra::check::CHECKS.iter().any(|c| c.name == stem), "{} names no check", path.display());
    }
}

#[test]
fn a_finding_allowed_with_a_reason_is_no_violation() {
    let text = fs::read_to_string(Path::new(DIR).join("codebuild_privileged_mode.toml")).unwrap();
    let allowed = text.replace(
        "type = \"codebuild.project\"\n",
        "type = \"codebuild.project\"\nallow = { codebuild_privileged_mode = \"builds Docker images\" }\n",
    );
    let stack = infra::config::load_str("t", Path::new("t.toml"), &allowed).unwrap();
    let found = infra::check::check(&stack, &Default::default());
    let privileged: Vec<_> = found.iter().filter(|f| f.check == "codebuild_privileged_mode").collect();
    assert_eq!(privileged.len(), 1);
    assert_eq!(privileged[0].allowed.as_deref(), Some("builds Docker images"));
    assert!(infra::check::violations(&found).iter().all(|f| f.check != "codebuild_privileged_mode"));
}
