//! Re-finding a wire regression input after a protocol change shifted what
//! its bytes do (a new request changes the opcode a byte picks): small
//! edits of the old input (1 to 8 bytes deleted or zero bytes inserted at
//! every position, then every value of every byte, then one byte of any
//! value inserted at every position), replayed until one
//! shows the finding again. Ignored; run by hand:
//!
//! ```sh
//! FILE=garbage-export-pending-85aa1604 WANT=garbage \
//!   cargo test --release --manifest-path fuzz/Cargo.toml --test wire_refind -- --ignored --nocapture
//! ```
//!
//! `WANT` is `garbage` (finding 10's counter), `bind` (a steered
//! `wl_registry.bind` with a null interface, finding 8) or `damage` (a
//! steered `wl_surface.damage` with a negative size, finding 7). It prints
//! the hex of the first hit; save it under the finding's prefix.

use std::sync::atomic::Ordering;

use accord_fuzz::wire::{check, stats, Server};

fn i32_at(p: &[u8], i: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(p.get(i..i + 4)?.try_into().ok()?))
}

/// Does replaying `data` show `want`?
fn shows(server: &mut Server, data: &[u8], want: &str) -> bool {
    stats::take_steered();
    let before = stats::GARBAGE_PENDING.load(Ordering::Relaxed);
    check(server, data).unwrap_or_else(|e| panic!("an invariant broke: {e}"));
    let steered = stats::take_steered();
    match want {
        "garbage" => stats::GARBAGE_PENDING.load(Ordering::Relaxed) > before,
        "bind" => steered
            .iter()
            .any(|s| s.request == "wl_registry.bind" && i32_at(&s.payload, 4) == Some(0)),
        "damage" => steered.iter().any(|s| {
            s.request == "wl_surface.damage"
                && matches!((i32_at(&s.payload, 8), i32_at(&s.payload, 12)),
                    (Some(w), Some(h)) if w < 0 || h < 0)
        }),
        other => panic!("WANT={other}: expected garbage, bind or damage"),
    }
}

#[test]
#[ignore]
fn refind() {
    let file = std::env::var("FILE").expect("FILE: a file in fuzz/regressions/wire");
    let want = std::env::var("WANT").expect("WANT: garbage, bind or damage");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/wire");
    let old = std::fs::read(dir.join(&file)).expect("the input");
    let mut edits: Vec<Vec<u8>> = Vec::new();
    for i in 0..=old.len() {
        for k in 1..=8 {
            if i + k <= old.len() {
                let mut d = old.clone();
                d.drain(i..i + k);
                edits.push(d);
            }
            let mut d = old.clone();
            d.splice(i..i, std::iter::repeat_n(0, k));
            edits.push(d);
        }
    }
    for i in 0..old.len() {
        for v in 0..=255u8 {
            let mut d = old.clone();
            d[i] = v;
            edits.push(d);
        }
    }
    // A new generator step reads one byte more somewhere: one byte of any
    // value inserted anywhere.
    for i in 0..=old.len() {
        for v in 1..=255u8 {
            let mut d = old.clone();
            d.insert(i, v);
            edits.push(d);
        }
    }
    let mut server = Server::new();
    for (n, d) in edits.iter().enumerate() {
        if shows(&mut server, d, &want) {
            let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
            eprintln!("edit {n} of {} shows {want}: {hex}", edits.len());
            return;
        }
    }
    panic!("none of {} edits shows {want}", edits.len());
}

/// When no edit of the old input works: random inputs over a small
/// alphabet (`ALPHABET`, comma-separated byte values; by default small
/// values plus the harness's operation numbers for garbage (29), dispatch
/// (24) and disconnect (30)), where the rare exact values a finding needs
/// (a garbage message's 16-bit opcode) come up often. `WANT` as above;
/// prints the first hit.
#[test]
#[ignore]
fn search() {
    let want = std::env::var("WANT").expect("WANT: garbage, bind or damage");
    let alphabet: Vec<u8> = std::env::var("ALPHABET")
        .unwrap_or_else(|_| "0,1,2,3,4,5,16,24,29,30".into())
        .split(',')
        .map(|v| v.trim().parse().expect("byte values"))
        .collect();
    let mut server = Server::new();
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for n in 0..300_000 {
        let len = 64 + (next() % 192) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        if shows(&mut server, &data, &want) {
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            eprintln!("input {n} shows {want}: {hex}");
            return;
        }
    }
    panic!("no input of 300,000 shows {want}");
}
