//! The compositor under test: the test kit's in-process compositor
//! (`accord_tests::server::compositor`: `wl_compositor`, dma-buf dispatch
//! and the Accord module on the memfd backend), run in the fuzzer's own
//! thread, observing nothing (no rendering, no `release` events in the
//! wire model, no record of `confirm_scanout` calls). Clients are socket pairs, so a case needs no listening
//! socket and no second thread, and dispatching is synchronous: after
//! [`Server::dispatch`], every byte the clients wrote has been handled.

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use accord_smithay::backend::memfd::MemfdBackend;
use accord_tests::server::compositor::{Compositor, Config, Observed};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::{Display, DisplayHandle};

/// The compositor under test; one per process, reused across cases (as a
/// real compositor outlives its clients).
pub struct Server {
    display: Display<Compositor>,
    pub state: Compositor,
    observed: Arc<Mutex<Observed>>,
    /// `Observed::repeated_disconnects` already added to the stats.
    repeated_seen: usize,
}

impl Server {
    pub fn new() -> Server {
        let display: Display<Compositor> = Display::new().expect("wayland display");
        let observed = Arc::new(Mutex::new(Observed::default()));
        let config = Config {
            unobserved: true,
            ..Config::default()
        };
        let state = Compositor::new(
            &display.handle(),
            accord_smithay::backend::Placements::from(Box::new(MemfdBackend::new())
                as Box<dyn accord_smithay::backend::CollectionAllocator>),
            config,
            observed.clone(),
        );
        Server {
            display,
            state,
            observed,
            repeated_seen: 0,
        }
    }

    pub fn handle(&self) -> DisplayHandle {
        self.display.handle()
    }

    /// A new client; the returned stream is its end of the connection.
    pub fn connect(&mut self) -> (ClientId, UnixStream) {
        let (server, client) = UnixStream::pair().expect("socket pair");
        let c = self
            .display
            .handle()
            .insert_client(server, self.state.client_data())
            .expect("insert client");
        client
            .set_nonblocking(true)
            .expect("non-blocking client socket");
        (c.id(), client)
    }

    /// Handle everything the clients sent, and send the replies.
    pub fn dispatch(&mut self) {
        let before = self.disconnects();
        // Errors here are per-client (they kill that client), never ours.
        let _ = self.display.dispatch_clients(&mut self.state);
        let _ = self.display.flush_clients();
        let (after, repeated) = self
            .observed
            .lock()
            .map(|o| (o.disconnects, o.repeated_disconnects))
            .unwrap_or_default();
        if after != before && super::tracing() {
            eprintln!("  server: {} client(s) disconnected", after - before);
        }
        // wayland-backend 0.3.17 may call `disconnected` twice for one
        // client (closed, then a protocol error from a request still
        // buffered); the kit counts each client once (FUZZING.md).
        for _ in self.repeated_seen..repeated {
            super::stats::count(&super::stats::REPEATED_DISCONNECTS);
        }
        self.repeated_seen = self.repeated_seen.max(repeated);
    }

    /// Clients whose disconnect was processed so far.
    pub fn disconnects(&self) -> usize {
        self.observed.lock().map(|o| o.disconnects).unwrap_or(0)
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}
