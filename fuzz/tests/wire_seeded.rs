//! The wire target's checks as seeded proptest cases on stable:
//! `cargo test --manifest-path fuzz/Cargo.toml`. A failure prints the shrunk
//! input in hex, ready for `fuzz/regressions/wire/`.

#[path = "../logic/seeded.rs"]
mod seeded;

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::Ordering;
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

/// What replaying one saved wire input must show, besides passing the
/// check. Every file in `fuzz/regressions/wire/` has an entry (by name
/// prefix), so a replay says what it replays.
enum Expect {
    /// The finding lies in code outside Accord that the harness steers
    /// garbage away from: the replay must still be steered there (the
    /// diverted message is the request named, with the payload the finding
    /// needs), or it no longer tests the steering.
    Steered {
        request: &'static str,
        payload: fn(&[u8]) -> bool,
        needs: &'static str,
    },
    /// The finding's code path in the harness or module: the replay must
    /// reach it again.
    Reaches {
        counter: &'static std::sync::atomic::AtomicUsize,
        what: &'static str,
    },
    /// The input no longer reaches its finding: the harness changed under
    /// it (its bytes now drive other operations). Still replayed as a
    /// plain input and printed as such, never counted as showing the
    /// finding; the assertion makes a change that reaches it again visible.
    NoLongerReaches {
        counter: Option<&'static std::sync::atomic::AtomicUsize>,
        why: &'static str,
    },
}

fn i32_at(p: &[u8], i: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(p.get(i..i + 4)?.try_into().ok()?))
}

/// (file-name prefix, FUZZING.md finding, what its replay must show).
const FINDINGS: [(&str, u32, Expect); 5] = [
    (
        "double-disconnect-",
        6,
        Expect::NoLongerReaches {
            counter: Some(&stats::REPEATED_DISCONNECTS),
            why: "wayland-backend's second `disconnected` call is not made any more by this input \
                  (the garbage steering of findings 7 and 8 changed what its bytes do); \
                  30,000 random cases did not find a new one",
        },
    ),
    (
        "garbage-export-pending-",
        10,
        Expect::Reaches {
            counter: &stats::GARBAGE_PENDING,
            what: "a gone client's garbage `export` leaves a handle pending",
        },
    ),
    (
        "smithay-damage-negative-",
        7,
        Expect::Steered {
            request: "wl_surface.damage",
            // x, y, width, height: a negative size trips smithay 0.7's
            // `Size::new` debug_assert.
            payload: |p| matches!((i32_at(p, 8), i32_at(p, 12)), (Some(w), Some(h)) if w < 0 || h < 0),
            needs: "a negative width or height",
        },
    ),
    (
        "smithay-damage-unknown-id-",
        11,
        Expect::NoLongerReaches {
            counter: None,
            why: "the harness's model drift that sent a well-formed request to a wl_surface as \
                  `damage` is not reproduced (no garbage is sent to an unknown object, so nothing \
                  is steered either); the drift itself remains (FUZZING.md, next steps)",
        },
    ),
    (
        "wayland-backend-bind-null-",
        8,
        Expect::Steered {
            request: "wl_registry.bind",
            // name, then the interface string's length: 0 is null, which
            // reaches wayland-backend 0.3.17's `unreachable!()`.
            payload: |p| i32_at(p, 4) == Some(0),
            needs: "a null interface name",
        },
    ),
];

#[test]
fn wire_regressions_stay_fixed() {
    let _serial = serial();
    let mut server = Server::new();
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = seeded::regressions(fuzz_dir, "wire");
    for (file, data) in &inputs {
        let name = file.file_name().unwrap().to_string_lossy();
        let Some((_, finding, expect)) = FINDINGS.iter().find(|(p, ..)| name.starts_with(p)) else {
            panic!("{name}: no entry in FINDINGS says what its replay must show");
        };
        stats::take_steered();
        let before = match expect {
            Expect::Reaches { counter, .. }
            | Expect::NoLongerReaches {
                counter: Some(counter),
                ..
            } => counter.load(Ordering::Relaxed),
            _ => 0,
        };
        check(&mut server, data).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        match expect {
            Expect::Steered {
                request,
                payload,
                needs,
            } => {
                let steered = stats::take_steered();
                let hit = steered
                    .iter()
                    .filter(|s| s.request == *request && payload(&s.payload))
                    .count();
                assert!(
                    hit > 0,
                    "{name} (finding {finding}): no garbage {request} with {needs} was steered away \
                     (steered: {:?}); the replay no longer shows the steering applies",
                    steered.iter().map(|s| &s.request).collect::<Vec<_>>()
                );
                eprintln!(
                    "{name}: finding {finding}, steered around (not replayed into) {request} \
                     with {needs}, {hit} time(s)"
                );
            }
            Expect::Reaches { counter, what } => {
                let n = counter.load(Ordering::Relaxed) - before;
                assert!(
                    n > 0,
                    "{name} (finding {finding}): the replay no longer reaches it: {what}"
                );
                eprintln!("{name}: finding {finding} reached ({what}), {n} time(s)");
            }
            Expect::NoLongerReaches { counter, why } => {
                let n = counter.map_or(0, |c| c.load(Ordering::Relaxed) - before);
                let steered = stats::take_steered().len();
                assert!(
                    n == 0 && steered == 0,
                    "{name} (finding {finding}) reaches its finding again ({n}, {steered} steered): \
                     give it a Reaches/Steered entry"
                );
                eprintln!(
                    "{name}: finding {finding} NOT reached, replayed as a plain input: {why}"
                );
            }
        }
    }
    seeded::report("wire", &inputs);
    assert!(!inputs.is_empty(), "fuzz/regressions/wire/ holds no input");
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
/// cargo test --manifest-path fuzz/Cargo.toml --test wire_seeded replay -- --ignored --nocapture`.
#[test]
#[ignore = "replays ACCORD_FUZZ_HEX; run it with --ignored"]
fn replay() {
    let hex = std::env::var("ACCORD_FUZZ_HEX")
        .expect("ACCORD_FUZZ_HEX=<input in hex> is what this test replays");
    let _serial = serial();
    let data: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    check(&mut Server::new(), &data).unwrap_or_else(|e| panic!("{e}"));
}
