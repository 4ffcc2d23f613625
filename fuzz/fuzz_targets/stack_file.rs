//! Any text given as a stack file: an error or a stack, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(stack) = infra::config::load_str("fuzz", std::path::Path::new("stacks/fuzz.toml"), text) {
            // A stack that loads can also be planned from nothing without a panic.
            let _ = infra::plan::plan(&stack, &infra::state::State::default(), &Default::default());
        }
    }
});
