//! Seeded random request sequences from misbehaving clients, ending in
//! abrupt disconnects. The compositor must survive every one (a panic would
//! stop its thread and fail the final negotiation), and the process must
//! return to its fd baseline. The seeded stand-in for the wire fuzzer.

use accord_client::{Accord, Constraints, MOD_LINEAR};
use accord_protocol::client::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
use accord_protocol::client::wp_buffer_collection_v1::{MemoryFlags, Usage, WpBufferCollectionV1};
use accord_tests::raw::{self, RawClient};
use accord_tests::{assert_fds_return_to, fd_census, TestServer, XRGB8888};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n.max(1)
    }
    /// Mostly small values, sometimes extreme ones.
    fn value(&mut self) -> u32 {
        match self.below(4) {
            0 => 0,
            1 => self.below(300),
            2 => u32::MAX - self.below(3),
            _ => self.next(),
        }
    }
}

fn pick<T: Clone>(rng: &mut Rng, v: &[T]) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        Some(v[rng.below(v.len() as u32) as usize].clone())
    }
}

/// What one random client ran into.
#[derive(Default)]
struct Tally {
    protocol_errors: usize,
    allocations: usize,
    failures: usize,
}

fn random_client(server: &TestServer, rng: &mut Rng, handles: &mut Vec<String>, tally: &mut Tally) {
    let (conn, socket) = server.connect_killable();
    let mut c = RawClient::new(conn);
    let surface = raw::surface(&mut c);
    let mut tokens: Vec<WpBufferCollectionTokenV1> = Vec::new();
    let mut colls: Vec<WpBufferCollectionV1> = Vec::new();
    let steps = 1 + rng.below(40);
    for step in 0..steps {
        match rng.below(21) {
            0 | 1 => tokens.push(c.create()),
            2 => {
                if let Some(t) = pick(rng, &tokens) {
                    tokens.push(t.duplicate(&c.qh, ()));
                }
            }
            3 => {
                if let Some(t) = pick(rng, &tokens) {
                    t.export();
                }
            }
            4 => {
                let handle = match rng.below(3) {
                    0 => pick(rng, handles).unwrap_or_default(),
                    1 => "0".repeat(64),
                    _ => "x".repeat(rng.below(100) as usize),
                };
                tokens.push(c.manager.import_token(Some(handle), &c.qh, ()));
            }
            5 => {
                if let Some(t) = pick(rng, &tokens) {
                    t.set_name(Some("n".repeat(rng.below(80) as usize)));
                }
            }
            6 => {
                if let Some(t) = pick(rng, &tokens) {
                    t.set_dispensable();
                }
            }
            7 | 8 => {
                if let Some(t) = pick(rng, &tokens) {
                    colls.push(t.bind(&c.qh, ()));
                }
            }
            9 => {
                if !tokens.is_empty() {
                    // A destroyed proxy may not be passed as an argument
                    // again (wayland-client would panic), so forget it.
                    let t = tokens.swap_remove(rng.below(tokens.len() as u32) as usize);
                    t.destroy();
                }
            }
            10 => {
                if let Some(t) = pick(rng, &tokens) {
                    c.manager.attach_surface(&t, &surface);
                }
            }
            11 => {
                if let Some(k) = pick(rng, &colls) {
                    let len = match rng.below(3) {
                        0 => 16,
                        1 => 16 * rng.below(130) as usize,
                        _ => rng.below(64) as usize,
                    };
                    let mut bytes = vec![0u8; len];
                    for b in bytes.iter_mut() {
                        *b = rng.next() as u8;
                    }
                    if len == 16 && rng.below(2) == 0 {
                        bytes[..4].copy_from_slice(&XRGB8888.to_ne_bytes());
                        bytes[8..].copy_from_slice(&MOD_LINEAR.to_ne_bytes());
                    }
                    k.add_formats(bytes);
                }
            }
            12 => {
                if let Some(k) = pick(rng, &colls) {
                    match rng.below(8) {
                        0 => k.set_usage(Usage::from_bits_retain(rng.value())),
                        1 => k.set_size_range(rng.value(), rng.value(), rng.value(), rng.value()),
                        2 => k.set_size_alignment(rng.value(), rng.value()),
                        3 => k.set_stride(rng.value(), rng.value(), rng.value()),
                        4 => k.set_alignment(rng.value(), rng.value()),
                        5 => k.set_max_bytes(rng.value(), rng.value()),
                        6 => k.set_buffer_counts(
                            rng.value(),
                            rng.value(),
                            rng.value(),
                            rng.value(),
                            rng.value(),
                        ),
                        _ => k.set_memory_flags(MemoryFlags::from_bits_retain(rng.value())),
                    }
                }
            }
            13 => {
                if let Some(k) = pick(rng, &colls) {
                    k.set_devices(vec![0u8; 8 * rng.below(70) as usize]);
                }
            }
            14 | 15 => {
                if let Some(k) = pick(rng, &colls) {
                    k.commit();
                }
            }
            16 => {
                if let Some(k) = pick(rng, &colls) {
                    let _ = k.get_wl_buffer(rng.below(4), &c.qh, ());
                }
            }
            17 => {
                if let Some(k) = pick(rng, &colls) {
                    k.destroy();
                }
            }
            18 => {
                // A well-formed participant, so some collections allocate
                // (and later random requests hit allocated objects).
                let t = c.create();
                let k = t.bind(&c.qh, ());
                let mut pair = XRGB8888.to_ne_bytes().to_vec();
                pair.extend_from_slice(&0u32.to_ne_bytes());
                pair.extend_from_slice(&MOD_LINEAR.to_ne_bytes());
                k.add_formats(pair);
                k.set_size_range(1 + rng.below(64), 1 + rng.below(64), 0, 0);
                k.set_buffer_counts(rng.below(3), 0, 0, 0, 0);
                k.commit();
                tokens.push(t);
                colls.push(k);
            }
            _ => {
                // Read events (collect handles for other clients to import).
                if c.roundtrip().is_err() {
                    break;
                }
                handles.extend(c.events.handles.values().cloned());
            }
        }
        if step % 8 == 7 && c.conn.flush().is_err() {
            break;
        }
    }
    let _ = c.conn.flush();
    if rng.below(2) == 0 {
        let _ = c.roundtrip();
        handles.extend(c.events.handles.values().cloned());
    }
    tally.protocol_errors += usize::from(c.conn.protocol_error().is_some());
    tally.allocations += c.events.allocated.len();
    tally.failures += c.events.failed.len() + c.events.token_failed.len();
    // Abrupt end: no destroy requests.
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

fn normal_negotiation(server: &TestServer) {
    let accord = Accord::new(&server.connect()).expect("the compositor still serves");
    let collection = accord.create_collection().bind();
    collection.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(1));
    let a = collection
        .wait_allocated()
        .expect("the compositor still allocates");
    assert_eq!(a.buffers.len(), 1);
}

#[test]
fn random_misbehaving_clients_cannot_break_the_compositor() {
    let server = TestServer::start();
    normal_negotiation(&server);
    let mut expected = 1;
    server.wait_disconnects(expected);
    let baseline = fd_census();
    let iterations: u32 = std::env::var("ACCORD_RANDOM_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut handles = Vec::new();
    let mut tally = Tally::default();
    for _ in 0..iterations {
        random_client(&server, &mut rng, &mut handles, &mut tally);
        expected += 1;
        server.wait_disconnects(expected);
        if handles.len() > 64 {
            handles.drain(..32);
        }
    }
    eprintln!(
        "{iterations} random clients: {} killed by a protocol error, {} allocations, {} failed events",
        tally.protocol_errors, tally.allocations, tally.failures
    );
    assert!(tally.allocations > 0 && tally.failures > 0 && tally.protocol_errors > 0);
    normal_negotiation(&server);
    server.wait_disconnects(expected + 1);
    server.assert_no_bytes_held();
    assert_fds_return_to(&baseline, &format!("{iterations} random clients"));
}
