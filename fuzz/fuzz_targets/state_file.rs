//! Any text given as a state file: an error or a state, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = infra::state::parse(std::path::Path::new("state/fuzz.json"), text);
    }
});
