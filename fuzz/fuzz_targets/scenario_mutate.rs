//! The scenario parser on structurally mutated example scenarios; see
//! `logic/scenario.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = accord_fuzz::scenario::check_mutated(data) {
        panic!("scenario invariant broken: {e}");
    }
});
