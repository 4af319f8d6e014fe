//! The two-process demo in one command: starts the headless reference
//! compositor (in this process), `accord-demo-producer` and
//! `accord-demo-consumer`, and a second consumer that joins as a late
//! viewer halfway through (`attach_token`, protocol version 2), and prints a
//! report built from what each saw. Exits non-zero if any check fails.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitCode, Stdio},
    sync::mpsc::{self, Receiver},
    time::{Duration, Instant},
};

use clap::Parser;

use accord_examples::{
    cli::{parse_window_size, Size},
    demo::{fourcc_name, modifier_name, pattern, program, results::Results, window::Error},
    refcomp::{spawn, Config, RendererKind, Running, Screenshot},
};

const NAME: &str = "accord-demo";

/// The two-process demo: runs the headless reference compositor (1280x720,
/// Pixman), accord-demo-producer and accord-demo-consumer; prints the report
/// and writes the compositor's output after the last frame to a PNG.
///
/// The last line is `accord-demo: result k=v ...` for scripts. Exits 1 if a
/// check of the report fails.
#[derive(Parser, Debug)]
#[command(name = "accord-demo")]
struct Args {
    /// Frames the producer draws and the consumer verifies.
    #[arg(long, value_name = "N", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    frames: u32,
    /// The producer's window size (64..=4096 x 32..=4096).
    #[arg(long, value_name = "WxH", value_parser = parse_window_size,
          default_value = "500x300")]
    size: Size,
    /// Renegotiate the stream to this size (64..=4096 x 32..=4096) a
    /// quarter of the way through: producer, consumer, compositor and late
    /// viewer follow the new generation of buffers.
    #[arg(long, value_name = "WxH", value_parser = parse_window_size)]
    resize_to: Option<Size>,
    /// Where to write the compositor's output after the last frame.
    #[arg(long, value_name = "FILE", default_value = "accord-demo.png")]
    png: PathBuf,
}

fn main() -> ExitCode {
    accord_examples::logging::init("warn");
    program(NAME, |args: Args| run(&args))
}

/// A private `XDG_RUNTIME_DIR` for the demo's socket, removed on drop.
struct RuntimeDir(PathBuf);

impl RuntimeDir {
    fn new() -> Result<Self, Error> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("accord-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self(path))
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child we started: killed if still running when dropped.
struct Process {
    name: &'static str,
    child: Child,
    lines: Receiver<String>,
}

impl Process {
    fn start(name: &'static str, mut command: Command) -> Result<Self, Error> {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { name, child, lines })
    }

    /// Waits for a stdout line starting with `prefix`.
    fn line(&self, prefix: &str, deadline: Instant) -> Result<String, Error> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("{} printed no {prefix:?} line in time", self.name).into())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("{} exited before printing {prefix:?}", self.name).into())
                }
            }
        }
    }

    fn results(&self, deadline: Instant) -> Result<Results, Error> {
        let line = self.line(&format!("{}: result ", self.name), deadline)?;
        Ok(Results::from_line(self.name, &line).ok_or("unparsable result line")?)
    }

    fn wait(&mut self, deadline: Instant) -> Result<(), Error> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("{} exited with {status}", self.name).into())
                };
            }
            if Instant::now() >= deadline {
                return Err(format!("{} did not exit in time", self.name).into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn client(bin: &Path, compositor: &Running) -> Command {
    let mut command = Command::new(bin);
    command.envs(compositor.client_env());
    command
}

fn sibling(name: &str) -> Result<PathBuf, Error> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        return Err(format!(
            "{} not found next to {}: build it with `cargo build --release -p accord-examples --bins`",
            name,
            exe.display()
        )
        .into());
    }
    Ok(path)
}

fn run(args: &Args) -> Result<bool, Error> {
    let (producer_bin, consumer_bin) = (
        sibling("accord-demo-producer")?,
        sibling("accord-demo-consumer")?,
    );
    let dir = RuntimeDir::new()?;
    let config = Config {
        runtime_dir: Some(dir.0.clone()),
        // Named: the demo's figures (bytes read to compose) are Pixman's.
        renderer: RendererKind::Pixman,
        ..Config::default()
    };
    let (out_w, out_h) = (config.width, config.height);
    let compositor = spawn(config)?;
    println!(
        "{NAME}: compositor: headless, Pixman, {out_w}x{out_h}, memfd allocator, WAYLAND_DISPLAY={}",
        compositor.socket_name()
    );
    let deadline = Instant::now() + Duration::from_secs(60 + u64::from(args.frames) / 20);

    let socket = dir.0.join("accord-demo-channel");
    let late_socket = dir.0.join("accord-demo-late-channel");
    let mut producer = client(&producer_bin, &compositor);
    producer
        .arg("--channel")
        .arg(&socket)
        .arg("--late-channel")
        .arg(&late_socket)
        .args([
            "--frames",
            &args.frames.to_string(),
            "--size",
            &args.size.to_string(),
            "--hold",
        ])
        .stdin(Stdio::piped());
    if let Some(size) = args.resize_to {
        producer.args(["--resize-to", &size.to_string()]);
    }
    let mut producer = Process::start("accord-demo-producer", producer)?;
    producer.line("accord-demo-producer: channel listening", deadline)?;
    let mut consumer = client(&consumer_bin, &compositor);
    consumer
        .arg("--channel")
        .arg(&socket)
        .arg("--hold")
        .stdin(Stdio::piped());
    let mut consumer = Process::start("accord-demo-consumer", consumer)?;
    // The late viewer connects now; the producer accepts it halfway.
    let mut viewer = client(&consumer_bin, &compositor);
    viewer.arg("--channel").arg(&late_socket);
    let mut viewer = Process::start("accord-demo-consumer", viewer)?;
    println!(
        "{NAME}: producer pid {}, consumer pid {}: {} frames",
        producer.child.id(),
        consumer.child.id(),
        args.frames
    );

    let p = producer.results(deadline)?;
    let c = consumer.results(deadline)?;
    // The producer and the consumer still hold the buffers (both wait for
    // their stdin to close): the compositor charges one allocation, so the
    // late join allocated nothing and, after a resize, the first
    // generation was released by both and drained.
    let charged = compositor.charged_bytes();
    // The producer holds its window until its stdin closes: the output
    // still shows its last frame.
    let shot = compositor.screenshot()?;
    shot.write_png(&args.png)?;
    drop(producer.child.stdin.take());
    drop(consumer.child.stdin.take());
    let v = viewer.results(deadline)?;
    producer.wait(deadline)?;
    consumer.wait(deadline)?;
    viewer.wait(deadline)?;
    let counters = compositor.stop()?;

    let (w, h) = (p.parse::<u32>("width")?, p.parse::<u32>("height")?);
    let produced = p.parse::<u32>("frames_produced")?;
    let shown_frame = pattern::decode(w, |x, y| shot.pixel(x, y).map(|[r, g, b, _]| [r, g, b]));
    let shot_matches = shown_frame == Some(produced) && window_matches(&shot, produced, w, h);
    let settings_equal = ["format", "modifier", "width", "height", "stride", "buffers"]
        .iter()
        .all(|k| p.get(k) == c.get(k));

    let mut r = Results::new();
    for k in [
        "format", "modifier", "width", "height", "stride", "buffers", "memory",
    ] {
        r.set(k, p.get(k).unwrap_or("?"));
    }
    // Each producer frame is read once, whole, to compose the frame it is
    // shown in; the one CPU copy is the screenshot above. With a resize,
    // the frames before it had the first size.
    let resized_at = p.parse::<u32>("resized_at")?;
    let before = resized_at.saturating_sub(1);
    let composited_bytes =
        u64::from(before) * u64::from(args.size.width) * u64::from(args.size.height) * 4
            + u64::from(produced - before) * u64::from(w) * u64::from(h) * 4;
    let screenshot_bytes = u64::from(shot.width) * u64::from(shot.height) * 4;
    // The late viewer joins before frame produced/2 + 1.
    let late_expected = produced - produced / 2;
    let one_allocation =
        u64::from(p.parse::<u32>("buffers")?) * u64::from(p.parse::<u32>("stride")?) * u64::from(h);
    let late_inodes_equal = v.get("inodes_equal") == Some("true")
        && p.get("inodes").is_some()
        && c.get("inodes_equal") == Some("true");
    r.set("frames_produced", produced)
        .set("frames_verified", c.parse::<u32>("frames_verified")?)
        .set("late_frames_verified", v.parse::<u32>("frames_verified")?)
        .set("late_frames_expected", late_expected)
        .set("late_inodes_equal", late_inodes_equal)
        .set("charged_bytes", charged)
        .set("one_allocation_bytes", one_allocation)
        .set("frames_shown", counters.foreign_frames_shown)
        .set("frames_composited", counters.frames_composited)
        .set("bytes_composited", counters.bytes_composited)
        .set("bytes_copied", counters.bytes_copied)
        .set("screenshot_bytes", screenshot_bytes)
        .set("inodes_equal", c.parse::<bool>("inodes_equal")?)
        .set("generation", p.parse::<u32>("generation")?)
        .set("consumer_generation", c.parse::<u32>("generation")?)
        .set("resized_at", resized_at)
        .set("settings_equal", settings_equal)
        .set("strides_aligned", c.parse::<bool>("strides_aligned")?)
        .set(
            "screenshot_frame",
            shown_frame.map_or("none".into(), |f| f.to_string()),
        )
        .set("screenshot_matches", shot_matches)
        .set("png", args.png.display());
    print_report(&r, &p, &counters.to_string());
    let ok = r.get("frames_verified") == Some(&produced.to_string())
        && counters.foreign_frames_shown == u64::from(produced)
        && counters.bytes_composited == composited_bytes
        && r.get("generation") == r.get("consumer_generation")
        && r.get("generation") == Some(if args.resize_to.is_some() { "2" } else { "1" })
        && counters.bytes_copied == screenshot_bytes
        && r.get("inodes_equal") == Some("true")
        && r.get("late_frames_verified") == Some(&late_expected.to_string())
        && late_inodes_equal
        && charged == one_allocation
        && settings_equal
        && r.get("strides_aligned") == Some("true")
        && shot_matches;
    println!("{}", r.line(NAME));
    if !ok {
        eprintln!("{NAME}: FAILED: a check above does not hold");
    }
    Ok(ok)
}

/// Every pixel of the producer's window (at (0, 0)) shows frame `frame`.
fn window_matches(shot: &Screenshot, frame: u32, w: u32, h: u32) -> bool {
    (0..h).all(|y| (0..w).all(|x| shot.pixel(x, y) == Some(pattern::rgba(frame, w, x, y))))
}

fn print_report(r: &Results, p: &Results, counters: &str) {
    let get = |k: &str| r.get(k).unwrap_or("?").to_owned();
    let format: u32 = r.parse("format").unwrap_or(0);
    let modifier: u64 = r.parse("modifier").unwrap_or(u64::MAX);
    let inodes = p.get("inodes").unwrap_or("?");
    println!("\n== Accord two-process demo ==");
    println!(
        "negotiated        {} ({format:#010x}), modifier {} ({modifier:#x}), {}x{}, stride {} bytes, {} buffers, {} memory",
        fourcc_name(format),
        modifier_name(modifier),
        get("width"),
        get("height"),
        get("stride"),
        get("buffers"),
        get("memory"),
    );
    println!(
        "participants      producer: cpu_write|render, XR24/AR24 LINEAR, exact size, 2 buffers"
    );
    println!(
        "                  consumer: cpu_read, XR24/AR24 LINEAR, stride alignment 256, 1 buffer"
    );
    println!(
        "                  compositor (attach_surface): sample, Pixman's LINEAR import formats"
    );
    println!(
        "same settings     producer and consumer: {}; strides 256-aligned: {}",
        get("settings_equal"),
        get("strides_aligned")
    );
    println!(
        "same memory       inodes equal in producer and consumer: {} ({inodes})",
        get("inodes_equal")
    );
    println!(
        "late viewer       joined halfway with attach_token: same buffers (inodes equal: {}), \
         verified {} of the {} frames after it joined; the compositor charges {} bytes, one \
         allocation ({} bytes): the join allocated nothing",
        get("late_inodes_equal"),
        get("late_frames_verified"),
        get("late_frames_expected"),
        get("charged_bytes"),
        get("one_allocation_bytes")
    );
    println!("frames produced   {}", get("frames_produced"));
    println!(
        "frames verified   {} (by the consumer, every pixel)",
        get("frames_verified")
    );
    println!(
        "frames shown      {} of {} (compositor counters)",
        get("frames_shown"),
        get("frames_produced")
    );
    let resized_at: u32 = get("resized_at").parse().unwrap_or(0);
    let read = if resized_at > 1 {
        format!(
            "{} frames at the first size, the rest at {}x{}, each x4",
            resized_at - 1,
            get("width"),
            get("height")
        )
    } else {
        format!(
            "{} frames x {}x{}x4",
            get("frames_shown"),
            get("width"),
            get("height")
        )
    };
    println!(
        "zero-copy         producer and consumer share the same memfd buffers; the compositor \
         composited {} frames, read {} bytes of them ({read})",
        get("frames_composited"),
        get("bytes_composited"),
    );
    if resized_at > 0 {
        println!(
            "renegotiated      before frame {resized_at}: producer, consumer and compositor moved \
             to generation {} (consumer: {}); the old one was released",
            get("generation"),
            get("consumer_generation")
        );
    }
    println!(
        "bytes copied      {} (the screenshot: {} bytes; compositor counters)",
        get("bytes_copied"),
        get("screenshot_bytes")
    );
    println!(
        "screenshot        {} shows frame {} (every window pixel exact: {})",
        get("png"),
        get("screenshot_frame"),
        get("screenshot_matches")
    );
    println!("compositor        {counters}\n");
}
