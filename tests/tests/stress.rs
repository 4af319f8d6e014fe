//! Leak-free lifecycles under stress: randomised clients connect, create,
//! duplicate, export, import, bind, commit, attach late tokens to allocated
//! collections (`attach_token`), make token groups of alternatives
//! (`create_group`, children, maybe `all_children_present`) and take
//! `wl_buffer`s at random
//! points, then leave at a random point: cleanly, by closing the socket,
//! or in the middle of a message (a request header with part of its body,
//! sometimes with an fd attached). Afterwards the process (compositor and
//! clients) is back at its fd census (by kind: sockets, dma-bufs, memfds, DRM
//! nodes, others), the compositor holds no bytes and
//! negotiates no collection.
//!
//! CI runs 1000 lifecycles; `ACCORD_STRESS=10000` runs the full count.
//! One test in its own binary, so no other test moves the fd count.

use std::time::{Duration, Instant};

use accord_protocol::client::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
use accord_protocol::client::wp_buffer_collection_v1::WpBufferCollectionV1;
use accord_tests::raw::RawClient;
use accord_tests::{abrupt, assert_fds_return_to, fd_census, TestServer};
use wayland_client::Proxy;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32) % n.max(1)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        if v.is_empty() {
            None
        } else {
            v.get(self.below(v.len() as u32) as usize)
        }
    }
}

/// How lifecycles ended and what they saw.
#[derive(Debug, Default)]
struct Tally {
    clean: usize,
    closed: usize,
    mid_message: usize,
    mid_message_fd: usize,
    allocated: usize,
    failed: usize,
    wl_buffers: usize,
    /// Late tokens attached to allocated collections.
    late_tokens: usize,
    /// Token groups made (some never closed with all_children_present).
    groups: usize,
    /// Most bytes the compositor held at the end of a random walk.
    peak_bytes: u64,
}

/// The client's collections that received `allocated`.
fn allocated(c: &RawClient, colls: &[WpBufferCollectionV1]) -> Vec<WpBufferCollectionV1> {
    colls
        .iter()
        .filter(|k| c.events.allocated.contains_key(&k.id()))
        .cloned()
        .collect()
}

/// One client: a random walk of requests, then a random ending.
fn lifecycle(server: &TestServer, rng: &mut Rng, handles: &mut Vec<String>, tally: &mut Tally) {
    let (conn, socket) = server.connect_killable();
    let mut c = RawClient::new(conn);
    let mut tokens: Vec<WpBufferCollectionTokenV1> = Vec::new();
    let mut colls: Vec<WpBufferCollectionV1> = Vec::new();
    let mut groups = Vec::new();
    let steps = rng.below(12);
    for _ in 0..steps {
        match rng.below(13) {
            0 => tokens.push(c.create()),
            1 | 10 => {
                // A collection of its own that allocates at once.
                let t = c.create();
                colls.push(c.bind_commit(&t));
            }
            2 => {
                if let Some(t) = rng.pick(&tokens).cloned() {
                    tokens.push(t.duplicate(&c.qh, ()));
                }
            }
            3 => {
                if !tokens.is_empty() {
                    let t = tokens.swap_remove(rng.below(tokens.len() as u32) as usize);
                    t.export();
                }
            }
            4 => {
                if let Some(h) = rng.pick(handles).cloned() {
                    tokens.push(c.manager.import_token(Some(h), &c.qh, ()));
                }
            }
            5 | 6 => {
                if !tokens.is_empty() {
                    let t = tokens.swap_remove(rng.below(tokens.len() as u32) as usize);
                    colls.push(c.bind_commit(&t));
                }
            }
            7 => {
                if !tokens.is_empty() {
                    let t = tokens.swap_remove(rng.below(tokens.len() as u32) as usize);
                    t.destroy();
                }
            }
            8 | 9 if !c.events.allocated.is_empty() && rng.below(2) == 0 => {
                // Take a wl_buffer from an allocated collection.
                let ready = allocated(&c, &colls);
                if let Some(k) = rng.pick(&ready) {
                    let _ = k.get_wl_buffer(0, &c.qh, ());
                    tally.wl_buffers += 1;
                }
            }
            11 => {
                // A late participant's token on an allocated collection: it
                // may be exported, bound and committed like any token.
                let ready = allocated(&c, &colls);
                if let Some(k) = rng.pick(&ready) {
                    tokens.push(k.attach_token(&c.qh, ()));
                    tally.late_tokens += 1;
                }
            }
            12 => {
                // A token becomes a group of 1 to 3 alternatives, whose
                // children join the walk as tokens; the list is closed
                // most of the time (an open group holds up allocation).
                if !tokens.is_empty() {
                    let t = tokens.swap_remove(rng.below(tokens.len() as u32) as usize);
                    let g = t.create_group(&c.qh, ());
                    for _ in 0..=rng.below(3) {
                        tokens.push(g.create_child(&c.qh, ()));
                    }
                    if rng.below(4) != 0 {
                        g.all_children_present();
                    }
                    groups.push(g);
                    tally.groups += 1;
                }
            }
            _ => {
                // Read events (and handles for later lifecycles to import).
                if c.roundtrip().is_err() {
                    break;
                }
                handles.extend(c.events.handles.drain().map(|(_, h)| h));
            }
        }
    }
    let _ = c.conn.flush();
    tally.peak_bytes = tally.peak_bytes.max(server.charged_bytes());
    tally.allocated += c.events.allocated.len();
    tally.failed += c.events.failed.len() + c.events.token_failed.len();
    match rng.below(4) {
        0 => {
            // Clean: read what is pending, destroy everything, disconnect.
            let _ = c.roundtrip();
            handles.extend(c.events.handles.drain().map(|(_, h)| h));
            for t in tokens {
                t.destroy();
            }
            for k in colls {
                k.destroy();
            }
            for g in groups {
                g.destroy();
            }
            let _ = c.roundtrip();
            tally.clean += 1;
        }
        1 => {
            let _ = socket.shutdown(std::net::Shutdown::Both);
            tally.closed += 1;
        }
        n => {
            // A request cut in the middle: an existing object's id (or the
            // display's), a plausible opcode, 12 of 32 bytes.
            let object = colls
                .first()
                .map(|k| k.id().protocol_id())
                .or_else(|| tokens.first().map(|t| t.id().protocol_id()))
                .unwrap_or(1);
            let with_fd = n == 3;
            abrupt::partial_message(socket, object, rng.below(12) as u16, with_fd);
            if with_fd {
                tally.mid_message_fd += 1;
            } else {
                tally.mid_message += 1;
            }
        }
    }
    if handles.len() > 32 {
        handles.drain(..16);
    }
}

#[test]
fn random_lifecycles_leave_no_fds_bytes_or_collections_behind() {
    let lifecycles: usize = std::env::var("ACCORD_STRESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // Handles nobody redeems keep their collection negotiating until they
    // expire: short here so the end state is reached quickly.
    let expiry = Duration::from_millis(300);
    let server = TestServer::builder().handle_expiry(expiry).start();
    // Warm up lazily opened fds.
    {
        let mut c = RawClient::new(server.connect());
        let t = c.create();
        let _k = c.bind_commit(&t);
        c.roundtrip().unwrap();
    }
    server.wait_disconnects(1);
    server.assert_no_bytes_held();
    let baseline = fd_census();
    let started = Instant::now();
    let mut rng = Rng(0x0dd_b1a5_e5ca_1ab1);
    let mut handles = Vec::new();
    let mut tally = Tally::default();
    for i in 0..lifecycles {
        lifecycle(&server, &mut rng, &mut handles, &mut tally);
        server.wait_disconnects(i + 2);
    }
    let ran = started.elapsed();
    server.assert_no_collections_left();
    server.assert_no_bytes_held();
    let after = assert_fds_return_to(&baseline, &format!("{lifecycles} lifecycles"));
    eprintln!(
        "stress: {lifecycles} lifecycles in {:.2} s; fds {} before ({baseline}), {} after ({after}); \
         bytes held after: {}; collections left: {}; {tally:?}",
        ran.as_secs_f64(),
        baseline.total(),
        after.total(),
        server.charged_bytes(),
        server.negotiating(),
    );
    assert!(
        tally.allocated > 0
            && tally.failed > 0
            && tally.wl_buffers > 0
            && tally.late_tokens > 0
            && tally.groups > 0
    );
    assert!(
        tally.clean > 0 && tally.closed > 0 && tally.mid_message > 0 && tally.mid_message_fd > 0
    );
}
