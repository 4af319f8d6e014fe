//! `accord-bench`: Accord's solve (P1), end-to-end (P2, P3), scale (P5),
//! pending-handle and flood (issue 21), waylandsink (issue 22) and
//! composited frame cost per renderer (issue 16) benchmarks.
//! See BENCHMARKS.md for what is measured and how.

mod compose;
mod compositor_process;
mod e2e;
mod flood;
mod flood_attacker;
mod groups;
mod gst_sinks;
mod handles;
mod handles_socket;
mod late;
mod refuse;
mod relay;
mod scale;
mod server;
mod solve;
mod stats;
mod waylandsink;
mod wl;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Accord's benchmarks: engine solve time (P1), end to end against wl_shm
/// (P2) with round trips (P3), negotiation latency and memory at scale (P5),
/// and event-loop turns with many pending handles. BENCHMARKS.md says what
/// each measures.
#[derive(Parser, Debug)]
#[command(name = "accord-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// P2, P3: A (Accord) vs B (wl_shm), alternating, in three processes;
    /// then one A and one B run through relays that count round trips.
    E2e {
        /// Measured A/B pairs (0 counts as 1).
        #[arg(long, value_name = "N", default_value_t = 40)]
        pairs: usize,
        /// Unmeasured A/B pairs before them.
        #[arg(long, value_name = "N", default_value_t = 5)]
        warmup: usize,
        #[command(flatten)]
        mode: ModeArgs,
        /// Take one page fault per first touch instead of prefaulting each
        /// buffer before touching it (MADV_POPULATE_WRITE / _READ).
        #[arg(long)]
        lazy: bool,
    },
    /// P5: negotiation latency and compositor memory with many clients and
    /// live collections.
    Scale {
        /// Client connections.
        #[arg(long, value_name = "N", default_value_t = 100)]
        clients: usize,
        /// Collections kept live, spread over the clients.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        collections: usize,
        /// Timed negotiations (create, allocate, release) once all are live.
        #[arg(long, value_name = "N", default_value_t = 200)]
        extra: usize,
    },
    /// P1: engine solve time, friendly input (16-pair core) and worst case
    /// (every participant lists the same pairs), random subsets, sweeps.
    Solve {
        /// Timed samples per case (0 counts as 1).
        #[arg(long, value_name = "N", default_value_t = 31)]
        samples: usize,
    },
    /// Issue 12's sweep input (friendly, seed 42) solved `--solves` times,
    /// untimed: for instruction, cache and branch counts under `valgrind
    /// --tool=callgrind --cache-sim=yes --branch-sim=yes`, which no other
    /// load on the machine changes. Run it once with `--solves 0` and
    /// subtract, to leave out building the input.
    SolveRepeat {
        /// Participants (1 to 64).
        #[arg(long, value_name = "N", default_value_t = 8)]
        participants: usize,
        /// Pairs per participant (1 to 65,536).
        #[arg(long, value_name = "N", default_value_t = 1024)]
        pairs: usize,
        /// Solves after the first (at most 1,000,000).
        #[arg(long, value_name = "N", default_value_t = 100)]
        solves: usize,
        /// Draw from a universe this many times the 4,544 pairs (1 to 64;
        /// the sweep's control case is 4 at 4,096 pairs).
        #[arg(long, value_name = "N", default_value_t = 1)]
        universe: u64,
    },
    /// The reference compositor's CPU while it refuses clients for lack
    /// of fds, against the same compositor idle (needs `accord-compositor`
    /// built and util-linux's `prlimit`).
    Refuse {
        /// The compositor binary (default: `accord-compositor` next to this
        /// one).
        #[arg(long, value_name = "PATH")]
        compositor: Option<PathBuf>,
        /// Its fd limit (soft and hard).
        #[arg(long, value_name = "N", default_value_t = 256)]
        nofile: u64,
        /// Length of the idle and of the refusing window.
        #[arg(long, value_name = "S", default_value_t = 2.0)]
        seconds: f64,
        /// Connection attempts while refusing (one per 10 ms at most).
        #[arg(long, value_name = "N", default_value_t = 100)]
        attempts: usize,
    },
    /// Issue 21: one maintenance turn (handle expiry, stall warnings) with
    /// many pending handles, against the v1 sweep over every handle; the
    /// memory per pending handle.
    Handles {
        /// Pending handles.
        #[arg(long, value_name = "N", default_value_t = 100_000)]
        pending: usize,
        /// Slots per collection, every one exported (at most 64).
        #[arg(long, value_name = "N", default_value_t = 50)]
        per_collection: usize,
        /// Handles per owner (one connection of a reconnecting client).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        per_owner: usize,
        /// Successive 1 % turns measured.
        #[arg(long, value_name = "N", default_value_t = 20)]
        steps: usize,
        /// Handle expiry of the real-socket part, seconds (its stall
        /// threshold is half of it).
        #[arg(long, value_name = "S", default_value_t = 2.0)]
        socket_expiry: f64,
        /// Skip the real-socket part.
        #[arg(long)]
        no_socket: bool,
    },
    /// Issue 21: a probe's 2-buffer negotiation latency in the real
    /// `accord-compositor`, idle and while another process floods it
    /// (buffer fds up to its budget, or 10⁵ pending handles), as ratios;
    /// the compositor's peak fds.
    Fdflood {
        /// The compositor binary (default: `accord-compositor` next to this
        /// one).
        #[arg(long, value_name = "PATH")]
        compositor: Option<PathBuf>,
        /// What the attacker floods.
        #[arg(long, value_enum, default_value_t = flood::Attack::Fds)]
        attack: flood::Attack,
        /// Probe negotiations before the attack (the baseline).
        #[arg(long, value_name = "N", default_value_t = 200)]
        idle: usize,
        /// fds: how long the attack lasts; handles: how long the probe goes
        /// on once every handle is pending.
        #[arg(long, value_name = "S", default_value_t = 3.0)]
        seconds: f64,
        /// handles: attacker processes, one after the other.
        #[arg(long, value_name = "N", default_value_t = 100)]
        processes: usize,
        /// handles: handles each attacker leaves pending (its budget).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        per_process: usize,
        /// handles: stop once the probe has run --seconds with every handle
        /// pending, instead of going on through their 60 s expiry.
        #[arg(long)]
        no_expiry: bool,
    },
    /// A late participant (attach_token) against a fresh collection:
    /// commit-to-buffers time, bytes allocated, round trips.
    Late {
        /// Timed samples of each path.
        #[arg(long, value_name = "N", default_value_t = 200)]
        samples: usize,
        /// Buffers in the producer's collection.
        #[arg(long, value_name = "N", default_value_t = 3)]
        buffers: u32,
    },
    /// Issue 22: GStreamer's waylandsink at 60 fps into accord-compositor,
    /// idle and beside CPU-bound processes: frames shown and presented, for
    /// this build and optionally a baseline build (needs gstreamer1.0-tools
    /// and gstreamer1.0-plugins-bad).
    Waylandsink {
        /// The compositor binary (default: `accord-compositor` next to this
        /// one).
        #[arg(long, value_name = "PATH")]
        compositor: Option<PathBuf>,
        /// Another build to compare, e.g. main's `accord-compositor`.
        #[arg(long, value_name = "PATH")]
        baseline: Option<PathBuf>,
        /// Frames of videotestsrc per run.
        #[arg(long, value_name = "N", default_value_t = 120)]
        frames: u32,
        /// Runs per case.
        #[arg(long, value_name = "N", default_value_t = 5)]
        runs: usize,
        /// CPU-bound processes beside it in the loaded case (0: idle only).
        #[arg(long, value_name = "N", default_value_t = 2)]
        load: usize,
        /// Run the compositor on this KMS card (as root) instead of
        /// headless.
        #[arg(long, value_name = "/dev/dri/cardN")]
        drm: Option<PathBuf>,
        /// Video size.
        #[arg(long, value_name = "WxH", value_parser = accord_examples::cli::parse_size,
            default_value = "640x360")]
        size: accord_examples::cli::Size,
    },
    /// Issue 17: `videotestsrc ! accordsink` against `videotestsrc !
    /// waylandsink` into a headless accord-compositor: CPU per frame and
    /// bytes copied per frame (needs gstreamer1.0-tools,
    /// gstreamer1.0-plugins-bad and the built plugin:
    /// cargo build --release -p gst-accord).
    GstSinks {
        /// The compositor binary (default: `accord-compositor` next to this
        /// one).
        #[arg(long, value_name = "PATH")]
        compositor: Option<PathBuf>,
        /// Where libgstaccord.so is (default: this binary's directory).
        #[arg(long, value_name = "DIR")]
        plugin_dir: Option<PathBuf>,
        /// The compositor's renderer.
        #[arg(long, value_name = "gles|pixman", default_value = "pixman")]
        renderer: String,
        /// The source: videotestsrc, or v4l2 (/dev/video0; accordsink with
        /// io-mode=dmabuf-import).
        #[arg(long, value_name = "videotestsrc|v4l2", default_value = "videotestsrc")]
        source: String,
        /// Run the compositor on this KMS card (as root) instead of
        /// headless.
        #[arg(long, value_name = "/dev/dri/cardN")]
        drm: Option<PathBuf>,
        /// Frames of videotestsrc per run.
        #[arg(long, value_name = "N", default_value_t = 300)]
        frames: u32,
        /// Runs per sink.
        #[arg(long, value_name = "N", default_value_t = 3)]
        runs: usize,
        /// Video size.
        #[arg(long, value_name = "WxH", value_parser = accord_examples::cli::parse_size,
            default_value = "1280x720")]
        size: accord_examples::cli::Size,
    },
    /// Issue 16: compositor CPU per composited frame with GLES (llvmpipe)
    /// against Pixman, the same scene (weston-simple-shm, headless),
    /// alternating runs; the ratio GLES/Pixman (needs `accord-compositor`
    /// built and weston's demo clients).
    Compose {
        /// The compositor binary (default: `accord-compositor` next to this
        /// one).
        #[arg(long, value_name = "PATH")]
        compositor: Option<PathBuf>,
        /// Measured pairs of runs (Pixman, GLES), after one warm-up pair.
        #[arg(long, value_name = "N", default_value_t = 5,
            value_parser = clap::value_parser!(u16).range(1..=100))]
        pairs: u16,
        /// Seconds measured per run (after 1 s of warm-up).
        #[arg(long, value_name = "S", default_value_t = 3.0)]
        seconds: f64,
        /// Output size.
        #[arg(long, value_name = "WxH", value_parser = accord_examples::cli::parse_size,
            default_value = "1280x720")]
        size: accord_examples::cli::Size,
    },
    /// Token groups: the engine's search at the 64-combination cap (the
    /// worst case: the last combination wins) against the same
    /// participants without groups.
    Groups {
        /// Timed samples of each case.
        #[arg(long, value_name = "N", default_value_t = 50)]
        samples: usize,
    },
    /// Internal: the attacker process of `fdflood`.
    FloodAttacker {
        /// The compositor's socket.
        #[arg(value_name = "SOCKET")]
        socket: PathBuf,
        #[command(subcommand)]
        attack: FloodAttack,
    },
    /// Internal: the compositor process of `e2e` and `scale` (commands on
    /// stdin, replies on stdout).
    Serve {
        /// Also run the reference compositor (headless, with wl_shm), which
        /// `e2e` times both A and B against.
        #[arg(long)]
        shm: bool,
    },
    /// Internal: the consumer process of `e2e`, driven over stdin/stdout.
    Consumer {
        /// The compositor's socket.
        #[arg(value_name = "SOCKET")]
        socket: PathBuf,
        #[command(flatten)]
        mode: ModeArgs,
        /// One page fault per first touch (as `e2e --lazy`).
        #[arg(long)]
        lazy: bool,
    },
}

/// What an `fdflood` attacker process does.
#[derive(Subcommand, Debug)]
enum FloodAttack {
    /// Rounds of 32 connections, each asking for --buffers 1×1 buffers,
    /// for --seconds.
    Fds {
        /// How long the rounds go on (at least one round).
        #[arg(long, value_name = "S", default_value_t = 3.0)]
        seconds: f64,
        /// Connections per round (the compositor allows 32 per process).
        #[arg(long, value_name = "N", default_value_t = 32)]
        connections: usize,
        /// Buffers per collection (at most 128).
        #[arg(long, value_name = "N", default_value_t = 128)]
        buffers: u32,
    },
    /// One connection exporting --per-process handles, left pending.
    Handles {
        /// Handles to export (all must succeed).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        per_process: usize,
    },
}

/// When the consumer reads the pages the producer writes (one of these at
/// most; the default is --pipeline).
#[derive(Args, Debug)]
#[group(multiple = false)]
struct ModeArgs {
    /// The consumer reads buffer i once the producer wrote it, as a
    /// pipeline does (the default).
    #[arg(long)]
    pipeline: bool,
    /// The consumer reads all buffers once the producer wrote all of them.
    #[arg(long)]
    after_all: bool,
    /// The consumer reads all buffers as soon as it holds them, racing the
    /// producer's writes (the producer tells it nothing).
    #[arg(long)]
    concurrent: bool,
}

impl ModeArgs {
    fn mode(&self) -> e2e::Mode {
        if self.after_all {
            e2e::Mode::AfterAll
        } else if self.concurrent {
            e2e::Mode::Concurrent
        } else {
            e2e::Mode::Pipeline
        }
    }
}

fn paging(lazy: bool) -> e2e::Paging {
    if lazy {
        e2e::Paging::Lazy
    } else {
        e2e::Paging::Populate
    }
}

fn main_result(command: Command) -> Result<(), String> {
    if matches!(
        command,
        Command::E2e { .. }
            | Command::Scale { .. }
            | Command::Solve { .. }
            | Command::Refuse { .. }
            | Command::Handles { .. }
            | Command::Fdflood { .. }
            | Command::Waylandsink { .. }
            | Command::GstSinks { .. }
            | Command::Groups { .. }
            | Command::Compose { .. }
    ) {
        println!("load average: {}", stats::loadavg());
    }
    match command {
        Command::E2e {
            pairs,
            warmup,
            mode,
            lazy,
        } => e2e::run(&e2e::Options {
            mode: mode.mode(),
            paging: paging(lazy),
            pairs: pairs.max(1),
            warmup,
        }),
        Command::Scale {
            clients,
            collections,
            extra,
        } => scale::run(&scale::Options {
            clients,
            collections,
            extra,
        }),
        Command::Solve { samples } => solve::run(&solve::Options {
            samples: samples.max(1),
        }),
        Command::SolveRepeat {
            participants,
            pairs,
            solves,
            universe,
        } => solve::repeat(&solve::Repeat {
            participants,
            pairs,
            solves,
            universe,
        }),
        Command::Refuse {
            compositor,
            nofile,
            seconds,
            attempts,
        } => refuse::run(&refuse::Options {
            compositor,
            nofile,
            seconds,
            attempts,
        }),
        Command::Handles {
            pending,
            per_collection,
            per_owner,
            steps,
            socket_expiry,
            no_socket,
        } => handles::run(&handles::Options {
            pending,
            per_collection,
            per_owner,
            steps,
            socket_expiry: (!no_socket)
                .then(|| std::time::Duration::from_secs_f64(socket_expiry.max(0.01))),
        }),
        Command::Fdflood {
            compositor,
            attack,
            idle,
            seconds,
            processes,
            per_process,
            no_expiry,
        } => flood::run(&flood::Options {
            compositor,
            attack,
            idle,
            seconds,
            processes,
            per_process,
            expiry: !no_expiry,
        }),
        Command::FloodAttacker { socket, attack } => match attack {
            FloodAttack::Fds {
                seconds,
                connections,
                buffers,
            } => flood_attacker::fds(&socket, seconds, connections, buffers),
            FloodAttack::Handles { per_process } => flood_attacker::handles(&socket, per_process),
        },
        Command::Waylandsink {
            compositor,
            baseline,
            frames,
            runs,
            load,
            drm,
            size,
        } => waylandsink::run(&waylandsink::Options {
            compositor,
            baseline,
            frames: frames.max(1),
            runs,
            load,
            drm,
            size: (size.width, size.height),
        }),
        Command::GstSinks {
            compositor,
            plugin_dir,
            renderer,
            source,
            drm,
            frames,
            runs,
            size,
        } => gst_sinks::run(&gst_sinks::Options {
            compositor,
            source,
            drm,
            plugin_dir,
            renderer,
            frames: frames.max(1),
            runs,
            size: (size.width, size.height),
        }),
        Command::Compose {
            compositor,
            pairs,
            seconds,
            size,
        } => compose::run(&compose::Options {
            compositor,
            pairs,
            seconds: seconds.clamp(0.1, 600.0),
            size: (size.width, size.height),
        }),
        Command::Late { samples, buffers } => late::run(&late::Options { samples, buffers }),
        Command::Groups { samples } => groups::run(&groups::Options {
            samples: samples.max(1),
        }),
        Command::Serve { shm } => server::serve(shm),
        Command::Consumer { socket, mode, lazy } => {
            e2e::consumer_main(&socket, mode.mode(), paging(lazy))
        }
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = main_result(cli.command) {
        eprintln!("accord-bench: {e}");
        std::process::exit(1);
    }
}
