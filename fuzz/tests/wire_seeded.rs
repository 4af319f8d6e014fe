//! The wire target's checks as seeded proptest cases on stable:
//! `cargo test --manifest-path fuzz/Cargo.toml`. A failure prints the shrunk
//! input in hex, ready for `fuzz/regressions/wire/`.

#[path = "../logic/seeded.rs"]
mod seeded;

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use accord_fuzz::wire::{check, check_with, stats, Server};
use proptest::prelude::*;

/// The checks count the process's open fds: one wire test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn inputs() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..400)
}

#[test]
fn wire_target_seeded() {
    let _serial = serial();
    let server = RefCell::new(Server::new());
    let before = stats::get();
    seeded::run("wire", 1500, 4, inputs(), |data| {
        check(&mut server.borrow_mut(), data)
    });
    // Not vacuous: the cases reach allocation, failures and errors.
    let after = stats::get();
    let (allocated, failed, errors) = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    eprintln!("allocated {allocated}, failed {failed}, protocol errors {errors}");
    assert!(
        allocated >= 100 && failed >= 30 && errors >= 300,
        "allocated {allocated}, failed {failed}, protocol errors {errors}"
    );
}

#[test]
fn wire_regressions_stay_fixed() {
    let _serial = serial();
    let mut server = Server::new();
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, data) in seeded::regressions(fuzz_dir, "wire") {
        check(&mut server, &data).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

/// FUZZING.md finding 1 (fixed): a null string in `import_token` or
/// `set_name` used to panic the compositor inside wayland-rs's generated
/// `parse_request`; it is now the protocol error invalid_handle/invalid_name.
#[test]
fn null_strings_do_not_panic() {
    let _serial = serial();
    let server = RefCell::new(Server::new());
    seeded::run("wire with null strings", 500, 5, inputs(), |data| {
        check_with(&mut server.borrow_mut(), data, true)
    });
}

/// Replay one input given in hex: `ACCORD_FUZZ_HEX=... ACCORD_FUZZ_TRACE=1
/// cargo test --manifest-path fuzz/Cargo.toml --test wire_seeded replay -- --nocapture`.
#[test]
fn replay() {
    let Ok(hex) = std::env::var("ACCORD_FUZZ_HEX") else {
        return;
    };
    let _serial = serial();
    let data: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    check(&mut Server::new(), &data).unwrap_or_else(|e| panic!("{e}"));
}
