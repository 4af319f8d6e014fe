//! The engine on arbitrary constraints; see `logic/engine.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = accord_fuzz::engine::check(data) {
        panic!("engine invariant broken: {e}");
    }
});
