//! P2/P3: from creating a collection until two clients both hold 3 mapped,
//! touched 1920×1080 ARGB8888 buffers, with the compositor as a third
//! participant (A), against one client making the same buffers with
//! `wl_shm` (B). Both run against the same server, the reference
//! compositor (`accord_examples::refcomp`, headless, memfd backend), in the
//! same run. A and B alternate; the ratio is taken per pair, and each run
//! is split into phases (negotiation, allocation and mapping, first touch)
//! timed apart. The round trips are the client library's own count of its
//! blocking waits (`Accord::blocking_waits`), beside the wire's count.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use accord_client::{
    Accord, Constraints, Mapping, Populate, Usage, DRM_FORMAT_ARGB8888, MOD_LINEAR,
};
use wayland_client::protocol::{wl_compositor, wl_shm};

use crate::relay::Relay;
use crate::server::{cpu_ns, sched, Sched, Server};
use crate::stats::{median, ms};
use crate::wl::{connect, read_pages, touch_pages, Globals, Wl};

pub const WIDTH: u32 = 1920;
pub const HEIGHT: u32 = 1080;
pub const BUFFERS: usize = 3;

pub struct Options {
    pub pairs: usize,
    pub warmup: usize,
    pub mode: Mode,
    pub paging: Paging,
}

/// How every client (A's two and B's one) gets its pages mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    /// Prefault each buffer in one call before touching it
    /// (`MADV_POPULATE_WRITE` to write, `_READ` to read): A through
    /// `accord_client::Mapping::populate`, B with the same `madvise`.
    Populate,
    /// One page fault per first touch (`--lazy`).
    Lazy,
}

impl Paging {
    pub const LAZY_FLAG: &'static str = "--lazy";

    /// Prefault `map` for `how` unless lazy.
    fn prepare(self, map: &Mapping<'_>, how: Populate) -> Result<(), String> {
        match self {
            Paging::Lazy => Ok(()),
            Paging::Populate => map.populate(how).map_err(|e| format!("populate: {e}")),
        }
    }
}

/// When the consumer reads the pages the producer writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Buffer i once the producer wrote buffer i (as a pipeline does: the
    /// consumer reads one buffer while the producer fills the next).
    Pipeline,
    /// All buffers once the producer wrote all of them.
    AfterAll,
    /// All of them as soon as it holds them, racing the producer's writes
    /// (the producer tells it nothing).
    Concurrent,
}

impl Mode {
    pub fn flag(self) -> &'static str {
        match self {
            Mode::Pipeline => "--pipeline",
            Mode::AfterAll => "--after-all",
            Mode::Concurrent => "--concurrent",
        }
    }

    /// Whether the producer tells the consumer once it wrote buffer `i`
    /// of `n`: after each buffer, after the last one, or never.
    fn tells_written(self, i: usize, n: usize) -> bool {
        match self {
            Mode::Pipeline => true,
            Mode::AfterAll => i + 1 == n,
            Mode::Concurrent => false,
        }
    }
}

/// What one participant ended up holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub buffers: usize,
    pub width: u32,
    pub height: u32,
    pub pages: usize,
    /// Times the client blocked for the compositor from its first request
    /// until it held its buffers: A's from `Accord::blocking_waits`, B's
    /// the `wl_display.sync` round trips it made.
    pub waits: usize,
}

/// Where one run's time went, µs (and the first-touch page faults).
#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    /// A: first request → producer holds the allocation (the consumer
    /// imported meanwhile; includes the compositor's allocation of the
    /// memfds). B: `create_pool` → `wl_display.sync` answered.
    pub negotiation: f64,
    /// A: mapping the 3 received buffers. B: `memfd_create` + `ftruncate`
    /// + `mmap`.
    pub allocation: f64,
    /// Prefault (unless `--lazy`) and write one byte per page, every
    /// buffer (A: the producer; B: its client).
    pub first_touch: f64,
    /// Minor page faults of that first touch (the writing thread's).
    pub faults: u64,
    /// A only: producer done → consumer done reading its last buffer.
    pub tail: f64,
}

/// Minor page faults of the calling thread (`/proc/thread-self/stat`,
/// field 10; the name in parentheses may hold spaces).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(7)?.parse().ok())
        })
        .unwrap_or(0)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn consumer_constraints() -> Constraints {
    Constraints::new()
        .usage(Usage::CpuRead)
        .format(DRM_FORMAT_ARGB8888, MOD_LINEAR)
        .buffers(1)
}

fn producer_constraints() -> Constraints {
    Constraints::new()
        .usage(Usage::CpuWrite)
        .format(DRM_FORMAT_ARGB8888, MOD_LINEAR)
        .min_size(WIDTH, HEIGHT)
        .max_size(WIDTH, HEIGHT)
        .buffers(2)
}

/// Map every buffer. The mappings are returned so that they stay alive
/// until the caller stops holding the buffers.
fn map_all(a: &accord_client::Allocation) -> Result<Vec<Mapping<'_>>, String> {
    a.buffers
        .iter()
        .map(|b| b.map().map_err(|e| format!("map buffer {}: {e}", b.index)))
        .collect()
}

/// `accord-bench consumer <socket>`: the second client, in its own process
/// as it would be. Reads `import <handle>` lines, answers
/// `done <buffers> <w> <h> <pages> <waits>`; `release` drops them.
pub fn consumer_main(socket: &Path, mode: Mode, paging: Paging) -> Result<(), String> {
    let conn = connect(socket)?;
    let accord = Accord::new(&conn).map_err(|e| e.to_string())?;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    let mut lines = stdin.lock().lines();
    while let Some(line) = lines.next() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(handle) = line.strip_prefix("import ") {
            let waits0 = accord.blocking_waits();
            let token = accord.import(handle);
            token.set_name("consumer");
            let coll = token.bind();
            coll.commit(&consumer_constraints());
            let a = coll.wait_allocated().map_err(|e| e.to_string())?;
            let waits = accord.blocking_waits() - waits0;
            let maps = map_all(&a)?;
            let t_read = Instant::now();
            let mut pages = 0;
            let read = |m: &Mapping<'_>| -> Result<usize, String> {
                paging.prepare(m, Populate::Read)?;
                Ok(read_pages(m).0)
            };
            let read_all = || maps.iter().map(read).sum::<Result<usize, String>>();
            if mode == Mode::Concurrent {
                pages = read_all()?;
            }
            // The producer says `written <i>` after writing buffer i, for
            // the buffers `tells_written` names.
            let n = maps.len();
            for i in (0..n).filter(|&i| mode.tells_written(i, n)) {
                let line = lines.next().transpose().map_err(|e| e.to_string())?;
                if line != Some(format!("written {i}")) {
                    return Err(format!("consumer: expected written {i}, got {line:?}"));
                }
                match mode {
                    Mode::Pipeline => pages += read(&maps[i])?,
                    Mode::AfterAll if i + 1 == maps.len() => pages = read_all()?,
                    _ => {}
                }
            }
            if std::env::var_os("ACCORD_BENCH_TRACE").is_some() {
                eprintln!(
                    "consumer read {pages} pages in {:.3} ms",
                    ms(t_read.elapsed())
                );
            }
            let n = a.buffers.len();
            writeln!(out, "done {n} {} {} {pages} {waits}", a.width, a.height)
                .map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            // Hold the mapped buffers until the producer has measured.
            let next = lines.next().transpose().map_err(|e| e.to_string())?;
            drop(maps);
            drop(a);
            drop(coll);
            // Deliver the destroy now, so the compositor frees the buffers
            // before the next measurement rather than during it.
            accord.roundtrip().map_err(|e| e.to_string())?;
            if next.as_deref() != Some("release") {
                return Err(format!("consumer: expected release, got {next:?}"));
            }
            writeln!(out, "released").map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
        } else if line == "quit" {
            break;
        }
    }
    Ok(())
}

/// The consumer process, driven over its stdin/stdout (the handle travels
/// the way it would between two applications: through a pipe).
struct ConsumerProcess {
    mode: Mode,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ConsumerProcess {
    fn spawn(socket: &Path, mode: Mode, paging: Paging) -> Result<ConsumerProcess, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .arg("consumer")
            .arg(socket)
            .arg(mode.flag())
            .args((paging == Paging::Lazy).then_some(Paging::LAZY_FLAG))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn the consumer: {e}"))?;
        let stdin = child.stdin.take().ok_or("consumer stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("consumer stdout")?);
        let mut c = ConsumerProcess {
            mode,
            child,
            stdin,
            stdout,
        };
        c.expect_line("ready")?;
        Ok(c)
    }

    fn line(&mut self) -> Result<String, String> {
        let mut l = String::new();
        match self.stdout.read_line(&mut l) {
            Ok(0) => Err("the consumer process exited".into()),
            Ok(_) => Ok(l.trim_end().to_owned()),
            Err(e) => Err(format!("consumer: {e}")),
        }
    }

    fn expect_line(&mut self, want: &str) -> Result<(), String> {
        let got = self.line()?;
        (got == want)
            .then_some(())
            .ok_or_else(|| format!("consumer said {got:?}, expected {want:?}"))
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.stdin, "{line}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| format!("consumer: {e}"))
    }

    fn wait_done(&mut self) -> Result<Held, String> {
        let l = self.line()?;
        let f: Vec<usize> = l
            .strip_prefix("done ")
            .ok_or_else(|| format!("consumer said {l:?}"))?
            .split(' ')
            .map(|x| x.parse().map_err(|_| format!("consumer said {l:?}")))
            .collect::<Result<_, _>>()?;
        let [buffers, w, h, pages, waits] = f[..] else {
            return Err(format!("consumer said {l:?}"));
        };
        Ok(Held {
            buffers,
            width: w as u32,
            height: h as u32,
            pages,
            waits,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn release(&mut self) -> Result<(), String> {
        self.send("release")?;
        self.expect_line("released")
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        let _ = self.send("quit");
        let _ = self.child.wait();
    }
}

/// The first client: creates the collection, exports a token to the
/// consumer, attaches one to its surface, and takes part itself.
struct Producer {
    accord: Accord,
    globals: Globals,
    compositor: wl_compositor::WlCompositor,
    paging: Paging,
}

impl Producer {
    fn new(socket: &Path, paging: Paging) -> Result<Producer, String> {
        let conn = connect(socket)?;
        let accord = Accord::new(&conn).map_err(|e| e.to_string())?;
        let globals = Globals::new(&conn)?;
        let compositor = globals.bind(4)?;
        Ok(Producer {
            accord,
            globals,
            compositor,
            paging,
        })
    }

    /// One run of A; the clock stops when both clients hold their mapped,
    /// touched buffers.
    fn run(
        &mut self,
        consumer: &mut ConsumerProcess,
        server: &Server,
        at_held: &mut dyn FnMut(),
    ) -> Result<(Duration, Held, Held, Phases), String> {
        let waits0 = self.accord.blocking_waits();
        let t0 = Instant::now();
        let surface = self.compositor.create_surface(&self.globals.qh, ());
        let root = self.accord.create_collection();
        root.set_name("producer");
        let for_consumer = root.duplicate();
        root.duplicate().attach_to_surface(&surface);
        let coll = root.bind();
        coll.commit(&producer_constraints());
        // Everything above goes out in one flush with the export request.
        let handle = for_consumer.export().map_err(|e| e.to_string())?;
        consumer.send(&format!("import {handle}"))?;
        let a = coll.wait_allocated().map_err(|e| e.to_string())?;
        let t_alloc = t0.elapsed();
        let waits = self.accord.blocking_waits() - waits0;
        let c0 = thread_cpu_ns();
        let mut maps = map_all(&a)?;
        let t_map = t0.elapsed();
        let f0 = minor_faults();
        let mut pages = 0;
        let n = maps.len();
        for (i, m) in maps.iter_mut().enumerate() {
            self.paging.prepare(m, Populate::Write)?;
            pages += touch_pages(m);
            if consumer.mode.tells_written(i, n) {
                consumer.send(&format!("written {i}"))?;
            }
        }
        let t_touch = t0.elapsed();
        let faults = minor_faults() - f0;
        let c1 = thread_cpu_ns();
        let theirs = consumer.wait_done()?;
        let elapsed = t0.elapsed();
        let phases = Phases {
            negotiation: us(t_alloc),
            allocation: us(t_map - t_alloc),
            first_touch: us(t_touch - t_map),
            faults,
            tail: us(elapsed - t_touch),
        };
        if std::env::var_os("ACCORD_BENCH_TRACE").is_some() {
            eprintln!(
                "A phases: allocated {:.3} ms, producer touched {:.3} ms (cpu {:.3} ms), consumer done {:.3} ms",
                ms(t_alloc),
                ms(t_touch),
                (c1 - c0) as f64 / 1e6,
                ms(elapsed)
            );
        }
        at_held();
        let mine = Held {
            buffers: a.buffers.len(),
            width: a.width,
            height: a.height,
            pages,
            waits: waits as usize,
        };
        drop(maps);
        surface.destroy();
        consumer.release()?;
        // Dropping the collection sends its `destroy` at once; after the
        // round trip the compositor has closed its fds too.
        drop(coll);
        self.accord.roundtrip().map_err(|e| e.to_string())?;
        server.settle();
        free_last(a);
        Ok((elapsed, mine, theirs, phases))
    }
}

/// The baseline client: one memfd, a `wl_shm` pool, 3 `wl_buffer`s, a
/// `wl_display.sync` round trip, every page touched once.
struct Baseline {
    globals: Globals,
    shm: wl_shm::WlShm,
    paging: Paging,
}

impl Baseline {
    fn new(socket: &Path, paging: Paging) -> Result<Baseline, String> {
        let conn = connect(socket)?;
        let globals = Globals::new(&conn)?;
        let shm = globals.bind(1)?;
        Ok(Baseline {
            globals,
            shm,
            paging,
        })
    }

    fn run(
        &mut self,
        server: &Server,
        at_held: &mut dyn FnMut(),
    ) -> Result<(Duration, Held, Phases), String> {
        let stride = WIDTH * 4;
        let size = stride as usize * HEIGHT as usize;
        let total = size * BUFFERS;
        let t0 = Instant::now();
        let fd = rustix::fs::memfd_create(
            "wl_shm-baseline",
            rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| format!("memfd: {e}"))?;
        rustix::fs::ftruncate(&fd, total as u64).map_err(|e| format!("ftruncate: {e}"))?;
        let t_alloc = t0.elapsed();
        let qh = &self.globals.qh;
        let pool = self.shm.create_pool(fd.as_fd(), total as i32, qh, ());
        let buffers: Vec<_> = (0..BUFFERS)
            .map(|i| {
                pool.create_buffer(
                    (i * size) as i32,
                    WIDTH as i32,
                    HEIGHT as i32,
                    stride as i32,
                    wl_shm::Format::Argb8888,
                    qh,
                    (),
                )
            })
            .collect();
        let mut waits = 0;
        self.globals
            .queue
            .roundtrip(&mut Wl)
            .map_err(|e| format!("wl_display.sync: {e}"))?;
        waits += 1;
        let t_negotiated = t0.elapsed();
        // SAFETY: a fresh shared mapping of the memfd we just sized.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                total,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(|e| format!("mmap: {e}"))?;
        let t_map = t0.elapsed();
        let f0 = minor_faults();
        if self.paging == Paging::Populate {
            // The same prefault as A's `Mapping::populate(Populate::Write)`.
            // SAFETY: prefaulting our own fresh mapping changes no contents.
            unsafe { rustix::mm::madvise(ptr, total, rustix::mm::Advice::LinuxPopulateWrite) }
                .map_err(|e| format!("madvise: {e}"))?;
        }
        // SAFETY: `ptr` maps `total` bytes until the munmap below.
        let bytes = unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), total) };
        let c0 = thread_cpu_ns();
        let pages = touch_pages(bytes);
        let elapsed = t0.elapsed();
        let phases = Phases {
            negotiation: us(t_negotiated - t_alloc),
            allocation: us(t_alloc + (t_map - t_negotiated)),
            first_touch: us(elapsed - t_map),
            faults: minor_faults() - f0,
            tail: 0.0,
        };
        if std::env::var_os("ACCORD_BENCH_TRACE").is_some() {
            eprintln!(
                "B: {:.3} ms, touch cpu {:.3} ms",
                ms(elapsed),
                (thread_cpu_ns() - c0) as f64 / 1e6
            );
        }
        at_held();
        // SAFETY: unmapping exactly what was mapped; `bytes` is dead.
        let _ = unsafe { rustix::mm::munmap(ptr, total) };
        for b in buffers {
            b.destroy();
        }
        pool.destroy();
        self.globals
            .queue
            .roundtrip(&mut Wl)
            .map_err(|e| format!("roundtrip: {e}"))?;
        // Smithay unmaps and closes the pool on its own thread after the
        // round trip: wait for it, so that the memfd below is the last
        // reference.
        server.settle();
        free_last(fd);
        let held = Held {
            buffers: BUFFERS,
            width: WIDTH,
            height: HEIGHT,
            pages,
            waits,
        };
        Ok((elapsed, held, phases))
    }
}

/// Close the last reference to a run's buffers (A's allocation, B's memfd):
/// their pages are freed here, in the benchmark process, for A and B alike,
/// so that each run allocates from the same state of the page allocator
/// (which CPU's free lists hold the previous run's pages). Outside the
/// clock.
fn free_last<T>(last: T) {
    let t = Instant::now();
    drop(last);
    if std::env::var_os("ACCORD_BENCH_TRACE").is_some() {
        eprintln!("freed the previous buffers in {:.3} ms", ms(t.elapsed()));
    }
}

/// On-CPU time of the calling thread.
fn thread_cpu_ns() -> u64 {
    cpu_ns(rustix::time::ClockId::ThreadCPUTime)
}

/// A's collection: the producer's and consumer's camping plus the one
/// buffer the compositor's surface participant camps while composited
/// (headless: no planes).
const A_BUFFERS: usize = BUFFERS + 1;

/// `h` holds `buffers` buffers of the benchmark's size, and the client
/// touched at least the pages of the `BUFFERS` it writes.
fn check(what: &str, h: &Held, buffers: usize) -> Result<(), String> {
    let pages_per_buffer = (WIDTH as usize * 4 * HEIGHT as usize).div_ceil(crate::wl::PAGE);
    if h.buffers != buffers
        || (h.width, h.height) != (WIDTH, HEIGHT)
        || h.pages < BUFFERS * pages_per_buffer
    {
        return Err(format!(
            "{what} holds {} buffers of {}x{} ({} pages touched), expected {buffers} of {WIDTH}x{HEIGHT}",
            h.buffers, h.width, h.height, h.pages
        ));
    }
    Ok(())
}

type Counts = (usize, usize, usize);

fn snapshot(relay: &Relay, i: usize) -> Counts {
    relay.wire(i).map_or((0, 0, 0), |w| {
        let w = w.lock().unwrap_or_else(|e| e.into_inner());
        (w.turns(), w.requests(), w.events())
    })
}

/// Round trips of one A and one B run, counted by relays on the wire from
/// the first request until both clients hold their buffers, beside the
/// blocking waits each client counted.
fn count_round_trips(server: &Server, socket: &Path, paging: Paging) -> Result<RoundTrips, String> {
    let dir = accord_tests::RuntimeDir::new();
    let relay = Relay::start(socket, dir.path())?;
    let mut producer = Producer::new(&relay.path, paging)?; // connection 0
    let mut consumer = ConsumerProcess::spawn(&relay.path, Mode::Pipeline, paging)?; // connection 1
    let shm_dir = accord_tests::RuntimeDir::new();
    let shm_relay = Relay::start(socket, shm_dir.path())?;
    let mut baseline = Baseline::new(&shm_relay.path, paging)?;

    producer.run(&mut consumer, server, &mut || {})?; // warm-up through the relay
    relay.reset_all();
    let (mut p, mut c) = ((0, 0, 0), (0, 0, 0));
    let (_, mine, theirs, _) = producer.run(&mut consumer, server, &mut || {
        p = snapshot(&relay, 0);
        c = snapshot(&relay, 1);
    })?;
    println!(
        "round trips A producer: wire {} ({} requests, {} events), blocking waits {}",
        p.0, p.1, p.2, mine.waits
    );
    println!(
        "round trips A consumer: wire {} ({} requests, {} events), blocking waits {}",
        c.0, c.1, c.2, theirs.waits
    );
    println!("round trips A compositor: 0 (in-process participant via attach_surface)");

    shm_relay.reset_all();
    let mut b = (0, 0, 0);
    let (_, held, _) = baseline.run(server, &mut || b = snapshot(&shm_relay, 0))?;
    println!(
        "round trips B wl_shm client: wire {} ({} requests, {} events), blocking waits {}",
        b.0, b.1, b.2, held.waits
    );
    Ok(RoundTrips {
        producer: mine.waits,
        consumer: theirs.waits,
        wire: (p.0, c.0),
    })
}

/// Blocking waits counted by the client library, per client, and the
/// wire's turns (producer, consumer) for comparison.
pub struct RoundTrips {
    pub producer: usize,
    pub consumer: usize,
    pub wire: (usize, usize),
}

/// `median (min–max)` of one phase over the runs, µs.
fn spread(v: &[f64]) -> String {
    format!(
        "{:.0} ({:.0}-{:.0})",
        median(v),
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(0.0, f64::max)
    )
}

/// Each phase over the runs.
#[derive(Default)]
struct PhaseLog {
    negotiation: Vec<f64>,
    allocation: Vec<f64>,
    first_touch: Vec<f64>,
    faults: Vec<f64>,
    tail: Vec<f64>,
    waits: Vec<f64>,
}

impl PhaseLog {
    fn push(&mut self, p: &Phases, waits: usize) {
        self.negotiation.push(p.negotiation);
        self.allocation.push(p.allocation);
        self.first_touch.push(p.first_touch);
        self.faults.push(p.faults as f64);
        self.tail.push(p.tail);
        self.waits.push(waits as f64);
    }
}

pub fn run(opts: &Options) -> Result<(), String> {
    let server = Server::spawn(true)?;
    // A and B both talk to the reference compositor: it offers `wl_shm` and
    // embeds the Accord module (memfd backend, headless).
    let socket = server
        .shm_socket
        .clone()
        .ok_or("the compositor process offers no reference compositor socket")?;
    let mut producer = Producer::new(&socket, opts.paging)?;
    let mut consumer = ConsumerProcess::spawn(&socket, opts.mode, opts.paging)?;
    let mut baseline = Baseline::new(&socket, opts.paging)?;

    for _ in 0..opts.warmup {
        producer.run(&mut consumer, &server, &mut || {})?;
        baseline.run(&server, &mut || {})?;
    }
    let (mut a, mut b, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let (mut phases_a, mut phases_b) = (PhaseLog::default(), PhaseLog::default());
    let mut consumer_waits = Vec::new();
    // CPU and run-queue wait of every process involved, summed over the
    // timed windows: (cpu, wait) for A and for B.
    let pids = [0, consumer.pid(), server.pid()];
    let sched = || pids.map(sched);
    let (mut cpu_a, mut cpu_b) = ([Sched::default(); 3], [Sched::default(); 3]);
    let add = |acc: &mut [Sched; 3], s0: [Sched; 3], s1: [Sched; 3]| {
        for i in 0..3 {
            acc[i].add(s1[i].since(s0[i]));
        }
    };
    for _ in 0..opts.pairs {
        // Each run starts with the compositor idle, A and B alike.
        server.settle();
        let s0 = sched();
        let mut s1 = s0;
        let (ta, mine, theirs, pa) = producer.run(&mut consumer, &server, &mut || s1 = sched())?;
        add(&mut cpu_a, s0, s1);
        check("producer", &mine, A_BUFFERS)?;
        check("consumer", &theirs, A_BUFFERS)?;
        phases_a.push(&pa, mine.waits);
        consumer_waits.push(theirs.waits as f64);
        server.settle();
        let s0 = sched();
        let mut s1 = s0;
        let (tb, held, pb) = baseline.run(&server, &mut || s1 = sched())?;
        add(&mut cpu_b, s0, s1);
        check("baseline", &held, BUFFERS)?;
        phases_b.push(&pb, held.waits);
        a.push(ms(ta));
        b.push(ms(tb));
        ratio.push(ms(ta) / ms(tb));
    }
    println!(
        "e2e: {} pairs after {} warm-up, {BUFFERS} buffers of {WIDTH}x{HEIGHT} ARGB8888, consumer reads {}, pages {}; A and B on the same server (reference compositor, memfd backend)",
        opts.pairs,
        opts.warmup,
        &opts.mode.flag()[2..],
        match opts.paging {
            Paging::Populate => "populated before touching (MADV_POPULATE_*)",
            Paging::Lazy => "faulted in on touch (--lazy)",
        }
    );
    println!(
        "A accord (2 clients + compositor) median: {:.3} ms (min {:.3}, max {:.3})",
        median(&a),
        a.iter().copied().fold(f64::INFINITY, f64::min),
        a.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "B wl_shm (1 client) median: {:.3} ms (min {:.3}, max {:.3})",
        median(&b),
        b.iter().copied().fold(f64::INFINITY, f64::min),
        b.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "ratio of medians: {:.3}",
        median(&a) / median(&b).max(f64::MIN_POSITIVE)
    );
    println!(
        "A phases, us median (min-max): negotiation {} with producer waits {} and consumer waits {}; allocation (map the 3 received buffers) {}; first touch {} ({} minor faults); consumer tail {}",
        spread(&phases_a.negotiation),
        spread(&phases_a.waits),
        spread(&consumer_waits),
        spread(&phases_a.allocation),
        spread(&phases_a.first_touch),
        spread(&phases_a.faults),
        spread(&phases_a.tail)
    );
    println!(
        "B phases, us median (min-max): negotiation (create_pool to sync answered) {} with waits {}; allocation (memfd_create, ftruncate, mmap) {}; first touch {} ({} minor faults)",
        spread(&phases_b.negotiation),
        spread(&phases_b.waits),
        spread(&phases_b.allocation),
        spread(&phases_b.first_touch),
        spread(&phases_b.faults)
    );
    let per_run = |ns: u64| ns as f64 / 1e6 / opts.pairs as f64;
    let switches = |c: &Sched| {
        let n = opts.pairs as f64;
        format!("{:.1}/{:.1}", c.wakeups as f64 / n, c.preempted as f64 / n)
    };
    println!(
        "A cpu per run: producer {:.3} ms, consumer {:.3} ms, compositor {:.3} ms; waiting for a cpu: {:.3} ms",
        per_run(cpu_a[0].cpu),
        per_run(cpu_a[1].cpu),
        per_run(cpu_a[2].cpu),
        per_run(cpu_a.iter().map(|c| c.wait).sum())
    );
    println!(
        "A wake-ups/preemptions per run: producer {}, consumer {}, compositor {}",
        switches(&cpu_a[0]),
        switches(&cpu_a[1]),
        switches(&cpu_a[2])
    );
    println!(
        "B cpu per run: client {:.3} ms, compositor {:.3} ms; waiting for a cpu: {:.3} ms",
        per_run(cpu_b[0].cpu),
        per_run(cpu_b[2].cpu),
        per_run(cpu_b.iter().map(|c| c.wait).sum())
    );
    println!(
        "B wake-ups/preemptions per run: client {}, compositor {}",
        switches(&cpu_b[0]),
        switches(&cpu_b[2])
    );
    let total = |c: &[Sched; 3]| c.iter().map(|x| x.cpu).sum::<u64>() as f64;
    println!(
        "cpu ratio accord/wl_shm (all processes): {:.3}",
        total(&cpu_a) / total(&cpu_b).max(1.0)
    );
    println!(
        "negotiation ratio accord/wl_shm (medians): {:.3}",
        median(&phases_a.negotiation) / median(&phases_b.negotiation).max(f64::MIN_POSITIVE)
    );
    drop(consumer);
    drop(producer);
    let rt = count_round_trips(&server, &socket, opts.paging)?;
    println!(
        "P3 round trips before holding buffers, blocking waits counted by accord-client: producer {}, consumer {} (goal <= 2; wire turns {}, {})",
        rt.producer, rt.consumer, rt.wire.0, rt.wire.1
    );
    println!("load average: {}", crate::stats::loadavg());
    println!("e2e ratio accord/wl_shm: {:.3}", median(&ratio));
    Ok(())
}
