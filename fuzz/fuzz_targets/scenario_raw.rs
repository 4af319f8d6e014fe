//! The scenario parser on arbitrary bytes; see `logic/scenario.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = accord_fuzz::scenario::check_text(data) {
        panic!("scenario invariant broken: {e}");
    }
});
