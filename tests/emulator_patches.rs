//! The emulator's compatibility patches (tests/emulator/patches/): tests/emulator/test_patches.py
//! checks them through boto3 against a fresh emulator, so that CI runs those checks too.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::Emulator;

#[test]
fn the_emulator_patches_behave_as_the_aws_api_reference_describes() {
    let emulator = Emulator::start();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/emulator/test_patches.py");

    let mut command = Command::new(root.join(".venv/bin/python"));
    command.arg(&script).arg(&emulator.endpoint).current_dir(&root).stdin(Stdio::null());
    // Only the emulator's dummy settings reach the script, never a real profile or key.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command.envs(emulator.env());
    let output = command.output().unwrap_or_else(|error| panic!("cannot run {}: {error}", script.display()));

    assert!(
        output.status.success(),
        "{} failed ({}):\n--- stdout ---\n{}--- stderr ---\n{}--- emulator stderr ---\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        emulator.stderr()
    );
}
