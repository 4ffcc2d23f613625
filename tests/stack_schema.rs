//! The JSON Schema of stack files (`infra schema`, committed as
//! docs/stack.schema.json) checked by the real tool editors run it with: taplo
//! (`taplo check`, built from crates.io by tests/ensure-taplo.sh), the TOML
//! language server of VS Code's Even Better TOML. Every stack file and every
//! fixture meant to be valid passes it, through the repository's .taplo.toml
//! and through the `#:schema` line of the example stacks; every bad fixture the
//! schema can judge fails it at the line infra names; the others (what only a
//! whole-stack reading can tell: cycles, references, secrets) pass it, each
//! listed here with why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

/// Bad fixtures that are valid JSON-Schema-wise: what only reading the whole
/// stack (or the machine it runs on) can tell.
const BEYOND_THE_SCHEMA: &[(&str, &str)] = &[
    ("config_list_in_string", "whether a ${config.KEY} in a longer string is a list depends on [config]"),
    ("cycle", "references between resources"),
    ("dangling_reference", "references between resources"),
    ("datetime", "taplo hands a TOML date to the schema as a string"),
    ("malformed_reference", "outputs are free text with references in it"),
    ("missing_secret_env", "the environment infra runs in"),
    ("missing_secret_file", "the files of the machine infra runs on"),
    ("reversed_port_range", "a pattern cannot compare the two ports of a range"),
    ("unknown_attribute", "which attributes a referenced resource has"),
    ("unknown_config_key", "which keys [config] has"),
    ("unknown_secret", "which names [secrets] has"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn taplo() -> PathBuf {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let status = Command::new("bash").arg(root().join("tests/ensure-taplo.sh")).status().unwrap();
        assert!(status.success(), "tests/ensure-taplo.sh failed");
    });
    root().join(".tools/bin/taplo")
}

/// `taplo check` in the repository with `args`: success, and what it printed.
fn check(args: &[&str]) -> (bool, String) {
    let out =
        Command::new(taplo()).args(["check", "--colors", "never"]).args(args).current_dir(root()).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `taplo check` of one file with the committed schema, the repository's
/// .taplo.toml left out.
fn check_with_schema(file: &Path) -> (bool, String) {
    let schema = format!("file://{}", root().join(infra::config::schema::COMMITTED).display());
    check(&["--no-auto-config", "--schema", &schema, file.to_str().unwrap()])
}

fn tomls(dir: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    found.sort();
    found
}

#[test]
fn the_committed_schema_is_what_infra_schema_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_infra")).arg("schema").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let path = root().join(infra::config::schema::COMMITTED);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &printed).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == printed,
        "{} is out of date; run UPDATE_GOLDEN=1 cargo test --test stack_schema",
        path.display()
    );
}

#[test]
fn every_stack_file_and_valid_fixture_passes_taplo_check_through_the_project_config() {
    // .taplo.toml names which files and which schema.
    let (ok, out) = check(&[]);
    assert!(ok, "{out}");
    let mut expected = tomls("stacks");
    expected.extend(tomls("examples/stages/stacks"));
    expected.extend(tomls("tests/fixtures/stacks"));
    expected.extend(tomls("tests/fixtures/checks"));
    for file in &expected {
        assert!(out.contains(&format!("\"{}\"", file.display())), "taplo did not check {}:\n{out}", file.display());
    }
}

#[test]
fn a_stack_file_s_schema_line_alone_makes_taplo_flag_a_misspelt_property_at_its_line() {
    // Without .taplo.toml: the `#:schema` line at the top of the file.
    let dev = std::fs::read_to_string(root().join("stacks/dev.toml")).unwrap();
    assert!(dev.starts_with("#:schema ../docs/stack.schema.json\n"));
    let (ok, out) = check(&["--no-auto-config", "stacks/dev.toml"]);
    assert!(ok, "{out}");

    // A copy of the project, outside the repository's .taplo.toml.
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("docs")).unwrap();
    std::fs::create_dir_all(project.path().join("stacks")).unwrap();
    let schema = infra::config::schema::COMMITTED;
    std::fs::copy(root().join(schema), project.path().join(schema)).unwrap();
    let misspelt = project.path().join("stacks/dev.toml");
    let line = dev.lines().position(|l| l.starts_with("instance_type = ")).unwrap() + 1;
    std::fs::write(&misspelt, dev.replacen("\ninstance_type = ", "\ninstnace_type = ", 1)).unwrap();
    let (ok, out) = check(&["--no-auto-config", misspelt.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("'instnace_type' was unexpected"), "{out}");
    assert!(out.contains(&format!("{}:{line}:", misspelt.display())), "not flagged at line {line}:\n{out}");
}

#[test]
fn every_bad_fixture_the_schema_can_judge_fails_taplo_check_at_the_line_infra_names() {
    let (mut judged, mut at_the_line) = (0, 0);
    for file in tomls("tests/fixtures/bad") {
        let name = file.file_stem().unwrap().to_str().unwrap().to_string();
        let (ok, out) = check_with_schema(&file);
        if let Some((_, why)) = BEYOND_THE_SCHEMA.iter().find(|(n, _)| *n == name) {
            assert!(ok, "{name} is listed as beyond the schema ({why}), but taplo fails it: move it out\n{out}");
            continue;
        }
        assert!(!ok, "taplo accepts the bad fixture {name}:\n{out}");
        judged += 1;
        // infra's message starts `tests/fixtures/bad/<name>.toml:LINE:COL:`.
        let expected = std::fs::read_to_string(file.with_extension("expected")).unwrap();
        let line = expected.split(':').nth(1).and_then(|l| l.parse::<usize>().ok());
        if let Some(line) = line.filter(|_| out.contains("┌─")) {
            assert!(
                out.contains(&format!("{}:{line}:", file.display())),
                "{name}: taplo does not flag line {line}, which infra names:\n{expected}\n{out}"
            );
            at_the_line += 1;
        }
    }
    // Every one but the file that is not UTF-8, which taplo refuses to read.
    assert_eq!((judged, at_the_line), (22, 21), "bad fixtures judged, and judged at infra's line");
}
