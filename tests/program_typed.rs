//! Stacks as typed Rust programs: the generated resource types are what the
//! schemas say, and a program's typed declaration is the stack a file would be.

use std::path::Path;

const GENERATED: &str = "src/program/generated.rs";

#[test]
fn the_generated_resource_types_are_what_the_schemas_generate() {
    let generated = infra::program::codegen::generate();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GENERATED);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "{GENERATED} is stale: a schema changed; run `UPDATE_GOLDEN=1 cargo test --test program_typed` to regenerate it"
    );
}

/// The `libinfra` the tests are built against (the newest, should older builds linger).
fn infra_rlib(deps: &Path) -> std::path::PathBuf {
    let mut rlibs: Vec<_> = std::fs::read_dir(deps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with("libinfra-")
                && p.extension().is_some_and(|e| e == "rlib")
        })
        .collect();
    rlibs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).unwrap());
    rlibs.pop().expect("the infra library is built beside the tests")
}

/// Compiles a program of tests/compile_fail/ against the built library (type
/// checking only, as `cargo check` does); returns whether it compiled and what
/// the compiler said.
fn compile(case: &Path) -> (bool, String) {
    let deps = Path::new(env!("CARGO_BIN_EXE_infra")).parent().unwrap().join("deps");
    let out = tempfile::tempdir().unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    // From the project directory, so that the compiler quotes the library's
    // source (the generated signature naming the field) in its notes.
    let output = std::process::Command::new(rustc)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "bin",
            "--crate-name",
            "case",
            "--emit=metadata",
            "--color",
            "never",
        ])
        .arg("--extern")
        .arg(format!("infra={}", infra_rlib(&deps).display()))
        .arg("-L")
        .arg(format!("dependency={}", deps.display()))
        .arg("--out-dir")
        .arg(out.path())
        .arg(case)
        .output()
        .expect("run rustc");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_misspelt_property_a_wrong_type_a_missing_required_field_or_an_output_of_another_type_does_not_compile() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile_fail");
    let mut cases: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(cases.len() >= 8, "the compile-fail cases are in {}", dir.display());
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&case).unwrap();
        let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("// expect: ")).collect();
        let (compiled, said) = compile(&case);
        if expected.is_empty() {
            assert!(compiled, "{name} must compile:\n{said}");
            continue;
        }
        assert!(!compiled, "{name} compiled, but must not");
        for message in expected {
            assert!(said.contains(message), "{name}: the compiler did not say {message:?}:\n{said}");
        }
    }
}
