//! `accord-bench handles`, second part: the same 10⁵ pending handles made
//! over real sockets, and what the compositor's event loop and a second
//! client see meanwhile.
//!
//! The compositor is the integration tests' (`accord_tests::server::
//! compositor::Compositor`: the Accord module, memfd backend) on a calloop
//! loop in a thread of this process, set up like `TestServer`'s, except
//! that every callback is timed: a **turn** is one `EventLoop::dispatch`
//! (the work of every source it ran, plus flushing the clients), without
//! its wait in `epoll`. The module's maintenance runs from a timer like
//! `insert_expiry_timer`'s, calling the public
//! `BufferCollectionState::expire_handles` (expiry, stall warnings, resolve)
//! and re-armed for the delay it returns (short while a backlog waits
//! behind the per-turn bounds).
//!
//! The attacker is one thread reconnecting `connections` times; each
//! connection creates collections of `per_collection` slots, exports every
//! slot (`per_owner` handles, under the 1,024 objects a connection may
//! hold), checks it got every handle, and disconnects: its handles stay
//! pending. A probe client negotiates a 2-buffer collection (two
//! participants, one buffer each) every 2 ms, before the attack (idle)
//! and from its start until every handle expired and the collections
//! they held are closed. Handle expiry and the stall threshold are
//! shortened (`--expiry`, stall at half of it) so that the run sees both.

use std::cell::Cell;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_client::Accord;
use accord_smithay::backend::memfd::MemfdBackend;
use accord_tests::raw::RawClient;
use accord_tests::server::compositor::{Compositor, Config};
use accord_tests::server::Observed;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{EventLoop, Interest, LoopSignal, Mode, PostAction};
use smithay::reexports::wayland_server::{Display, ListeningSocket};

use crate::stats::{median, ms, quantile};

pub struct Options {
    pub connections: usize,
    pub per_owner: usize,
    pub per_collection: usize,
    pub expiry: Duration,
}

thread_local! {
    /// Work done by the callbacks of the current dispatch.
    static WORK: Cell<Duration> = const { Cell::new(Duration::ZERO) };
    /// The longest timer (maintenance) callback so far.
    static TIMER_MAX: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let t0 = Instant::now();
    let r = f();
    let d = t0.elapsed();
    WORK.with(|w| w.set(w.get() + d));
    (r, d)
}

/// What the server thread measured.
#[derive(Default)]
struct Turns {
    /// Work per dispatch, ms.
    turns: Vec<f64>,
    timer_max: Duration,
}

struct Server {
    signal: LoopSignal,
    socket: std::path::PathBuf,
    observed: Arc<Mutex<Observed>>,
    thread: Option<std::thread::JoinHandle<Turns>>,
    _dir: accord_tests::RuntimeDir,
}

impl Server {
    fn start(config: Config) -> Result<Server, String> {
        let dir = accord_tests::RuntimeDir::new();
        let socket = dir.path().join("wayland-accord-bench");
        let observed = Arc::new(Mutex::new(Observed::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (path, obs) = (socket.clone(), observed.clone());
        let thread = std::thread::spawn(move || serve(path, obs, config, tx));
        let signal = rx.recv().map_err(|_| "the server thread failed to start")?;
        Ok(Server {
            signal,
            socket,
            observed,
            thread: Some(thread),
            _dir: dir,
        })
    }

    fn negotiating(&self) -> usize {
        self.observed.lock().map(|o| o.negotiating).unwrap_or(0)
    }

    fn stop(mut self) -> Turns {
        STOP.store(true, Ordering::Relaxed);
        self.signal.wakeup();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

fn serve(
    path: std::path::PathBuf,
    observed: Arc<Mutex<Observed>>,
    config: Config,
    started: std::sync::mpsc::Sender<LoopSignal>,
) -> Turns {
    let mut event_loop: EventLoop<Compositor> = EventLoop::try_new().expect("event loop");
    let display: Display<Compositor> = Display::new().expect("display");
    let dh = display.handle();
    let listener = ListeningSocket::bind_absolute(path).expect("bind socket");
    // The queue is measured, not the per-client budget: raise it, as an
    // embedder would.
    let config = Config {
        budgets: Some(accord_smithay::collections::Budgets {
            pending_handles: usize::MAX,
            collections: usize::MAX,
            tokens: usize::MAX,
            ..Default::default()
        }),
        max_pending_handles: Some(usize::MAX),
        ..config
    };
    let mut state = Compositor::new(
        &dh,
        accord_smithay::backend::Placements::from(
            Box::new(MemfdBackend::new()) as Box<dyn accord_smithay::backend::CollectionAllocator>
        ),
        config,
        observed,
    );
    let handle = event_loop.handle();
    // The first tick: the module's timer period, a quarter of the shorter
    // threshold, between 5 ms and 1 s.
    let expiry = config.handle_expiry.unwrap_or(Duration::from_secs(60));
    let stall = config.stall_warning.unwrap_or(Duration::from_secs(5));
    let period = (expiry.min(stall) / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
    handle
        .insert_source(Timer::from_duration(period), move |_, _, state| {
            // The module says when to come back: its period, or at once
            // while a backlog waits behind the per-turn bounds.
            let (next, d) = timed(|| state.accord.expire_handles());
            TIMER_MAX.with(|m| m.set(m.get().max(d)));
            TimeoutAction::ToDuration(next)
        })
        .expect("timer");
    let mut clients = dh.clone();
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, state: &mut Compositor| {
                timed(|| {
                    while let Ok(Some(stream)) = listener.accept() {
                        let _ = clients.insert_client(stream, state.client_data());
                    }
                });
                Ok(PostAction::Continue)
            },
        )
        .expect("listen source");
    handle
        .insert_source(
            Generic::new(display, Interest::READ, Mode::Level),
            |_, display, state: &mut Compositor| {
                timed(|| {
                    // SAFETY: the display is not dropped while dispatching.
                    unsafe {
                        let _ = display.get_mut().dispatch_clients(state);
                    }
                });
                Ok(PostAction::Continue)
            },
        )
        .expect("display source");
    let _ = started.send(event_loop.get_signal());
    let mut dh = dh;
    let mut out = Turns::default();
    while !STOP.load(Ordering::Relaxed) {
        WORK.with(|w| w.set(Duration::ZERO));
        if event_loop
            .dispatch(Some(Duration::from_millis(100)), &mut state)
            .is_err()
        {
            break;
        }
        timed(|| {
            let _ = dh.flush_clients();
        });
        state.observe(); // the kit's bookkeeping, not timed
        let work = WORK.with(|w| w.get());
        out.turns.push(ms(work));
    }
    out.timer_max = TIMER_MAX.with(|m| m.get());
    out
}

/// Ends the server loop (with a `LoopSignal::wakeup`).
static STOP: AtomicBool = AtomicBool::new(false);

/// One 2-participant, 2-buffer negotiation: ms.
pub(crate) fn negotiate(accord: &Accord) -> Result<f64, String> {
    let t0 = Instant::now();
    let root = accord.create_collection();
    let other = root.duplicate();
    let a = root.bind();
    let b = other.bind();
    a.commit(&crate::scale::one_small_buffer());
    b.commit(&crate::scale::one_small_buffer());
    let got_a = a.wait_allocated().map_err(|e| e.to_string())?;
    let got_b = b.wait_allocated().map_err(|e| e.to_string())?;
    let t = ms(t0.elapsed());
    if got_a.buffers.len() != 2 || got_b.buffers.len() != 2 {
        return Err(format!(
            "the probe got {} and {} buffers, wanted 2",
            got_a.buffers.len(),
            got_b.buffers.len()
        ));
    }
    Ok(t)
}

/// One attacking connection: every slot of its collections exported, every
/// handle received; then it disconnects. Returns the handles it got.
pub(crate) fn attack_once(socket: &std::path::Path, opts: &Options) -> Result<usize, String> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    let conn = wayland_client::Connection::from_socket(stream).map_err(|e| e.to_string())?;
    let mut c = RawClient::new(conn);
    let mut left = opts.per_owner;
    while left > 0 {
        let k = opts.per_collection.min(left);
        let root = c.create();
        let mut tokens = Vec::with_capacity(k);
        for _ in 1..k {
            tokens.push(root.duplicate(&c.qh, ()));
        }
        tokens.push(root);
        for t in &tokens {
            t.export();
        }
        left -= k;
        // Let the replies out before the compositor's buffer fills.
        c.roundtrip()
            .map_err(|(code, m)| format!("attacker: protocol error {code}: {m}"))?;
    }
    let got = c.events.handles.len();
    if !c.events.token_failed.is_empty() {
        let (code, m) = c
            .events
            .token_failed
            .values()
            .next()
            .cloned()
            .unwrap_or_default();
        return Err(format!("attacker: an export failed ({code}): {m}"));
    }
    Ok(got)
}

pub fn run(opts: &Options) -> Result<(), String> {
    let config = Config {
        handle_expiry: Some(opts.expiry),
        stall_warning: Some(opts.expiry / 2),
        unobserved: true,
        ..Default::default()
    };
    STOP.store(false, Ordering::Relaxed);
    let server = Server::start(config)?;
    let probe_conn = crate::wl::connect(&server.socket)?;
    let probe = Accord::new(&probe_conn).map_err(|e| e.to_string())?;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(negotiate(&probe)?);
        std::thread::sleep(Duration::from_millis(2));
    }

    let done = Arc::new(AtomicBool::new(false));
    let attacker = {
        let socket = server.socket.clone();
        let (connections, per_owner, per_collection) =
            (opts.connections, opts.per_owner, opts.per_collection);
        let done = done.clone();
        std::thread::spawn(move || -> Result<(usize, Duration), String> {
            let o = Options {
                connections,
                per_owner,
                per_collection,
                expiry: Duration::ZERO,
            };
            let t0 = Instant::now();
            let mut total = 0;
            let r = (|| {
                for _ in 0..o.connections {
                    total += attack_once(&socket, &o)?;
                }
                Ok::<(), String>(())
            })();
            done.store(true, Ordering::Relaxed);
            r.map(|()| (total, t0.elapsed()))
        })
    };
    let t0 = Instant::now();
    let mut busy = Vec::new();
    let mut peak_negotiating = 0;
    let limit = opts.expiry * 3 + Duration::from_secs(10);
    loop {
        busy.push(negotiate(&probe)?);
        peak_negotiating = peak_negotiating.max(server.negotiating());
        if done.load(Ordering::Relaxed) && server.negotiating() == 0 {
            break;
        }
        if t0.elapsed() > limit {
            return Err(format!(
                "collections still negotiating after {:.1} s: {}",
                limit.as_secs_f64(),
                server.negotiating()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let window = t0.elapsed();
    let (handles, attack_time) = attacker.join().map_err(|_| "the attacker panicked")??;
    drop(probe);
    drop(probe_conn);
    let turns = server.stop();
    if handles != opts.connections * opts.per_owner {
        return Err(format!(
            "the attacker got {handles} handles, wanted {}",
            opts.connections * opts.per_owner
        ));
    }
    let over = turns.turns.iter().filter(|&&t| t > 10.0).count();
    println!(
        "socket: {handles} handles exported over {} connections in {:.2} s (each disconnected, handles left pending; peak {peak_negotiating} collections negotiating), expiry {:.1} s, stall {:.1} s",
        opts.connections,
        attack_time.as_secs_f64(),
        opts.expiry.as_secs_f64(),
        (opts.expiry / 2).as_secs_f64()
    );
    println!(
        "socket: event-loop turns over {:.2} s: {} turns, median {:.3} ms, p99 {:.3} ms, worst {:.3} ms, {over} over 10 ms; worst maintenance tick {:.3} ms",
        window.as_secs_f64(),
        turns.turns.len(),
        median(&turns.turns),
        quantile(&turns.turns, 0.99),
        quantile(&turns.turns, 1.0),
        ms(turns.timer_max)
    );
    println!(
        "socket: probe 2-buffer negotiation: idle median {:.3} ms, worst {:.3} ms ({} runs); under attack and expiry median {:.3} ms, worst {:.3} ms ({} runs)",
        median(&idle),
        quantile(&idle, 1.0),
        idle.len(),
        median(&busy),
        quantile(&busy, 1.0),
        busy.len()
    );
    println!(
        "handles socket worst_turn_ms: {:.3} worst_tick_ms: {:.3} probe_worst_ms: {:.3} probe_median_ms: {:.3}",
        quantile(&turns.turns, 1.0),
        ms(turns.timer_max),
        quantile(&busy, 1.0),
        median(&busy)
    );
    Ok(())
}
