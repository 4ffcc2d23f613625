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
