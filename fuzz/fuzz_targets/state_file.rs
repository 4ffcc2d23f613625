//! Any text given as a state file, optionally followed by a NUL and the text of
//! its journal: an error or a state, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (state, journal) = text.split_once('\0').unwrap_or((text, ""));
        let _ = infra::state::parse(Path::new("state/fuzz.json"), state);
        let _ = infra::state::parse_with_journal(
            Path::new("state/fuzz.json"),
            state,
            Path::new("state/fuzz.journal"),
            journal,
            "fuzz",
        );
    }
});
