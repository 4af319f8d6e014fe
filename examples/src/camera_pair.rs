//! Camera to scanout in two processes, the seeds' "a camera process and a
//! player": the reference compositor on a KMS card (a thread of the
//! parent), a **camera process** that owns the V4L2 node and a **player
//! process** that owns the fullscreen window. Both are this program run
//! again with [`ROLE_FLAG`] (the demo binary and the test binary each
//! dispatch it to [`role_main`]).
//!
//! The two talk over a Unix socket in the runtime directory, one text line
//! per message, every line bounded (512 bytes) and parsed strictly:
//!
//! ```text
//! player → camera   size W H                  the window's configured size
//! camera → player   handle HEX                the exported collection token
//! camera → player   frame N INDEX SEQUENCE    frame N is in buffer INDEX
//! player → camera   shown N RELEASE|-         frame N is on screen; RELEASE,
//!                                             the frame before, is off it
//! camera → player   done N                    no more frames
//! ```
//!
//! The camera creates the collection, exports a handle for the player,
//! binds its own token and commits the constraints `accord_v4l2` probes
//! from the node at the window's size. The player imports the handle,
//! attaches one token to its surface (the compositor joins with the
//! primary plane's scanout formats, camping the frame on screen and the
//! one queued for the flip) and binds the other with neutral constraints.
//! Only buffer indices cross the socket, never pixels; the dma-bufs reach
//! each process from the compositor. The exchange is in lock step: the
//! camera queues a buffer again only once the player says a newer frame
//! replaced it on screen, so vivid never writes the buffer being scanned
//! out.
//!
//! The player prints `camera-pair ready` once its window is mapped and
//! the collection allocated, and waits for `go` on its stdin: the parent
//! takes its "before" counters there, so they cover the 60 frames and not
//! the window's mapping. Each process prints one `camera-pair ROLE k=v
//! ...` line at the end and
//! then waits for its stdin to close, so the parent reads the compositor's
//! counters and charged bytes while both still hold the collection and the
//! last frame is still on screen (the window going away composes the
//! background). The parent measures the
//! compositor: counters, its fd census and the module's charged bytes
//! before the processes start and after both exit.

use std::{
    io::{BufRead, BufReader, Read, Write},
    os::unix::net::{UnixListener, UnixStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

use accord_client::{Accord, Constraints, MemoryKind, DRM_FORMAT_XRGB8888, MOD_LINEAR};
use accord_fd_census::FdCensus;
use accord_smithay::kms::{Card, ScanoutTarget};
use accord_v4l2::{fourcc::fourcc, Capture, Node};
use wayland_client::Connection;

use crate::{
    camera_run::{exp_name, participant_name, sample, CollectionWindow, PixelSample},
    cost::{process_cpu, Span},
    kms_run::{settle, with_compositor, Baseline, Charged},
    refcomp::{scanned_out, CounterSnapshot, DrmOptions, Error, Running},
};

/// The first argument that makes a program run one side of the pair.
pub const ROLE_FLAG: &str = "--camera-pair-role";
/// The player's line once it is ready to show frames.
const READY: &str = "camera-pair ready";
/// A channel line's limit in bytes (a handle is at most 256 hex digits).
const MAX_LINE: u64 = 512;
/// How long either side waits for the other.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Buffers a collection may have, for checking indices from the socket.
const MAX_BUFFERS: u32 = 64;

/// What to run.
#[derive(Debug, Clone)]
pub struct PairRun {
    pub card: PathBuf,
    pub video: PathBuf,
    pub frames: u32,
    /// Frames (0-based) the player reads back through the plane and
    /// compares with the buffer the camera filled.
    pub check_frames: Vec<u32>,
    pub runtime_parent: PathBuf,
}

impl PairRun {
    pub fn new(card: impl Into<PathBuf>, video: impl Into<PathBuf>) -> Self {
        Self {
            card: card.into(),
            video: video.into(),
            frames: 60,
            check_frames: Vec::new(),
            runtime_parent: std::env::temp_dir(),
        }
    }
}

/// One process's closing line, `key=value` pairs.
#[derive(Debug, Clone, Default)]
pub struct Line(Vec<(String, String)>);

impl Line {
    fn parse(line: &str, role: &str) -> Option<Self> {
        let rest = line.strip_prefix(&format!("camera-pair {role} "))?;
        Some(Self(
            rest.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ))
    }

    /// The value of `key`, or `""`.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The value of `key` as a number, or 0.
    pub fn num(&self, key: &str) -> u64 {
        self.get(key).parse().unwrap_or(0)
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { "" } else { " " })?;
        }
        Ok(())
    }
}

/// The outcome of a two-process run.
#[derive(Debug, Clone)]
pub struct PairReport {
    pub frames: u32,
    /// The camera's line: format, modifier, width, height, stride,
    /// buffers, dmabuf, exporter, seq_first, seq_last, cpu_ns.
    pub camera: Line,
    /// The player's line: frames, exporter, last_is_camera_buffer,
    /// samples (`frame:sequence:buffer:same:mismatched:pixels:colours`,
    /// comma separated), cpu_ns.
    pub player: Line,
    /// Compositor counters from before the processes started until the
    /// player's last frame was on screen.
    pub delta: CounterSnapshot,
    pub compositor_cpu: Duration,
    pub wall: Duration,
    pub fds_before: FdCensus,
    pub fds_after: Result<FdCensus, String>,
    pub charged: Charged,
    /// Charged bytes once the camera process (the collection's creator)
    /// has exited and the player still holds the buffers (the same one
    /// allocation).
    pub charged_camera_gone: u64,
}

impl PairReport {
    /// The player's read-backs.
    pub fn samples(&self) -> Vec<PixelSample> {
        self.player
            .get("samples")
            .split(',')
            .filter_map(|s| {
                let f: Vec<&str> = s.split(':').collect();
                let n = |i: usize| f.get(i)?.parse::<u64>().ok();
                Some(PixelSample {
                    frame: n(0)? as u32,
                    sequence: n(1)? as u32,
                    buffer: n(2)? as u32,
                    same_buffer: n(3)? == 1,
                    mismatched: n(4)? as usize,
                    pixels: n(5)? as usize,
                    colours: n(6)? as usize,
                })
            })
            .collect()
    }
}

/// Runs the compositor on `run.card` and `exe` twice (`exe ROLE_FLAG
/// camera ...`, `exe ROLE_FLAG player ...`); the compositor stops before
/// this returns.
pub fn run_pair(run: &PairRun, exe: &Path) -> Result<PairReport, Error> {
    let options = DrmOptions::new(&run.card);
    with_compositor(
        &run.runtime_parent,
        "camera-pair",
        crate::refcomp::RendererKind::Pixman,
        options,
        |compositor, baseline| run_processes(run, exe, compositor, baseline),
    )
}

/// Kills and reaps a child on every early return.
struct Reaped(Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run_processes(
    run: &PairRun,
    exe: &Path,
    compositor: &Running,
    baseline: Baseline,
) -> Result<PairReport, Error> {
    let channel = compositor.runtime_dir().join("camera-pair.sock");
    let checks: Vec<String> = run.check_frames.iter().map(u32::to_string).collect();
    let spawn = |role: &str, device: &Path| {
        Command::new(exe)
            .arg(ROLE_FLAG)
            .arg(role)
            .arg(compositor.socket_path())
            .arg(&channel)
            .arg(device)
            .arg(run.frames.to_string())
            .arg(checks.join(","))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the {role} process ({}): {e}", exe.display()))
    };
    let mut camera = Reaped(Some(spawn("camera", &run.video)?));
    let mut player = Reaped(Some(spawn("player", &run.card)?));
    // Counters from the first frame on: the window's mapping and the
    // allocation are done when the player says it is ready.
    let child = player.0.as_mut().ok_or("no player")?;
    ready(child)?;
    settle(compositor);
    let span = Span::start(compositor);
    writeln!(child.stdin.as_mut().ok_or("no stdin")?, "go")?;
    let player_line = closing_line(player.0.as_mut().ok_or("no player")?, "player")?;
    let cost = span.finish(compositor);
    let camera_line = closing_line(camera.0.as_mut().ok_or("no camera")?, "camera")?;
    // Both processes hold the collection now (each waits for its stdin).
    let charged_during = compositor.charged_bytes();
    // The camera leaves first, the player still showing its last frame.
    let holding = FdCensus::of_self()?;
    let mut charged_camera_gone = 0;
    for (side, name) in [(&mut camera, "camera"), (&mut player, "player")] {
        let mut child = side.0.take().ok_or("reaped twice")?;
        drop(child.stdin.take()); // each side exits at EOF
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("the {name} process exited with {status}").into());
        }
        if name == "camera" {
            // The compositor has seen the camera leave once it closed
            // that client's socket; then one frame tick for the gauge.
            let deadline = Instant::now() + Duration::from_secs(5);
            while FdCensus::of_self()?.sockets >= holding.sockets {
                if Instant::now() >= deadline {
                    return Err(
                        "the compositor kept the camera's connection 5 s after it exited".into(),
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(100));
            charged_camera_gone = compositor.charged_bytes();
        }
    }
    let (fds_after, charged) = baseline.back(compositor, charged_during);
    Ok(PairReport {
        frames: run.frames,
        camera: camera_line,
        player: player_line,
        delta: cost.delta,
        compositor_cpu: cost.compositor_cpu,
        wall: cost.wall,
        fds_before: baseline.fds,
        fds_after,
        charged,
        charged_camera_gone,
    })
}

/// Reads the player's stdout up to its ready line.
fn ready(child: &mut Child) -> Result<(), Error> {
    let stdout = child.stdout.as_mut().ok_or("no stdout")?;
    let mut line = Vec::new();
    // Byte by byte: what follows stays in the pipe for `closing_line`.
    let mut byte = [0u8];
    loop {
        if stdout.read(&mut byte)? == 0 {
            let status = child.wait()?;
            return Err(format!("the player process ended ({status}) before it was ready").into());
        }
        if byte[0] != b'\n' {
            line.push(byte[0]);
            continue;
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        if text == READY {
            return Ok(());
        }
        println!("{text}");
        line.clear();
    }
}

/// Reads the child's stdout up to its `camera-pair ROLE` line (other
/// lines pass through to ours); a child that ends without one failed, and
/// its stderr (inherited) said why.
fn closing_line(child: &mut Child, role: &str) -> Result<Line, Error> {
    let stdout = child.stdout.as_mut().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            let status = child.wait()?;
            return Err(format!("the {role} process ended ({status}) without its result").into());
        }
        if let Some(parsed) = Line::parse(line.trim_end(), role) {
            return Ok(parsed);
        }
        print!("{line}");
    }
}

/// `program ROLE_FLAG ROLE SOCKET CHANNEL DEVICE FRAMES CHECKS`: runs one
/// side and prints its closing line; exits 1 with the reason otherwise.
pub fn role_main(args: &[String]) -> ExitCode {
    let result = (|| -> Result<(), Error> {
        let [role, socket, channel, device, frames, checks] = args else {
            return Err(format!(
                "{ROLE_FLAG} expects ROLE SOCKET CHANNEL DEVICE FRAMES CHECKS, got {} arguments",
                args.len()
            )
            .into());
        };
        let frames: u32 = frames
            .parse()
            .ok()
            .filter(|f| (1..=100_000).contains(f))
            .ok_or_else(|| format!("frames {frames:?}: expected 1..=100000"))?;
        let checks = checks
            .split(',')
            .filter(|s| !s.is_empty())
            .take(1000)
            .map(|s| s.parse::<u32>().map_err(|_| format!("check frame {s:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        let (socket, channel, device) = (Path::new(socket), Path::new(channel), Path::new(device));
        match role.as_str() {
            "camera" => camera_side(socket, channel, device, frames),
            "player" => player_side(socket, channel, device, frames, &checks),
            other => Err(format!("role {other:?}: expected camera or player").into()),
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("camera-pair {}: {err}", args.first().map_or("?", |s| s));
            ExitCode::FAILURE
        }
    }
}

/// Prints the side's closing line and waits for its stdin to close: the
/// caller still holds its objects (the collection, and the player its
/// window with the last frame), so the parent reads the counters and the
/// charged bytes while both processes hold the allocation, and sees what
/// each process's exit releases.
fn hold(role: &str, line: Line) -> Result<(), Error> {
    println!("camera-pair {role} {line}");
    std::io::stdout().flush()?;
    std::io::stdin().read_to_end(&mut Vec::new())?;
    Ok(())
}

/// One side of the socket: bounded lines in, lines out.
struct Channel {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Channel {
    fn new(stream: UnixStream) -> Result<Self, Error> {
        stream.set_read_timeout(Some(TIMEOUT))?;
        Ok(Self {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    fn send(&mut self, line: &str) -> Result<(), Error> {
        writeln!(self.writer, "{line}").map_err(|e| Error::from(format!("sending {line:?}: {e}")))
    }

    /// The next line's words; its first word must be `kind`.
    fn recv(&mut self, kind: &str) -> Result<Vec<String>, Error> {
        let mut line = String::new();
        (&mut self.reader).take(MAX_LINE).read_line(&mut line)?;
        if !line.ends_with('\n') {
            return Err(format!(
                "expected a {kind:?} line of at most {MAX_LINE} bytes, got {line:?}"
            )
            .into());
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        if words.first().map(String::as_str) != Some(kind) {
            return Err(format!("expected a {kind:?} line, got {line:?}").into());
        }
        Ok(words)
    }
}

/// Word `i` of a line as a number at most `max`.
fn word(words: &[String], i: usize, max: u32) -> Result<u32, Error> {
    words
        .get(i)
        .and_then(|w| w.parse::<u32>().ok())
        .filter(|v| *v <= max)
        .ok_or_else(|| format!("{words:?}: word {i} should be a number at most {max}").into())
}

fn camera_side(socket: &Path, channel: &Path, video: &Path, frames: u32) -> Result<(), Error> {
    let listener = UnixListener::bind(channel)
        .map_err(|e| format!("cannot listen on {}: {e}", channel.display()))?;
    let node = Node::open(video)?;
    let driver = node.driver().to_owned();
    let (stream, _) = listener.accept()?;
    let mut peer = Channel::new(stream)?;
    let size = peer.recv("size")?;
    let size = (word(&size, 1, 16384)?, word(&size, 2, 16384)?);
    let camera = node.constraints(fourcc(b"XR24"), size)?;

    let conn = Connection::from_socket(
        UnixStream::connect(socket)
            .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?,
    )?;
    let accord = Accord::new(&conn).map_err(|e| format!("Accord: {e}"))?;
    let token = accord.create_collection();
    token.set_name(&participant_name(video, &driver));
    let handle = token
        .duplicate()
        .export()
        .map_err(|e| format!("export: {e}"))?;
    peer.send(&format!("handle {handle}"))?;
    let collection = token.bind();
    collection.commit(&camera.constraints);
    let allocation = collection
        .wait_allocated()
        .map_err(|e| format!("the collection failed: {e}"))?;
    let first = allocation.buffers.first().ok_or("no buffers")?;
    let buffers = allocation.buffers.len() as u32;
    let mut line = vec![
        ("format", format!("{:#x}", allocation.format)),
        ("modifier", format!("{:#x}", allocation.modifier)),
        ("width", allocation.width.to_string()),
        ("height", allocation.height.to_string()),
        (
            "stride",
            first.planes.first().map_or(0, |p| p.stride).to_string(),
        ),
        ("buffers", buffers.to_string()),
        ("size", first.size.to_string()),
        ("camping", camera.camping.to_string()),
        (
            "dmabuf",
            u8::from(allocation.memory == MemoryKind::DmaBuf).to_string(),
        ),
        (
            "exporter",
            first
                .planes
                .first()
                .and_then(|p| exp_name(&p.fd))
                .unwrap_or_else(|| "-".into()),
        ),
    ];
    let mut capture = Capture::start(node, &camera, &allocation)?;
    let mut sequences = (0, 0);
    for n in 0..frames {
        let frame = capture.dequeue(Duration::from_secs(10))?;
        if frame.error {
            return Err(format!("the camera flagged frame {} as corrupt", frame.sequence).into());
        }
        if n == 0 {
            sequences.0 = frame.sequence;
        }
        sequences.1 = frame.sequence;
        peer.send(&format!("frame {n} {} {}", frame.index, frame.sequence))?;
        let shown = peer.recv("shown")?;
        if word(&shown, 1, u32::MAX)? != n {
            return Err(format!("{shown:?}: expected frame {n}").into());
        }
        match shown.get(2).map(String::as_str) {
            Some("-") if n == 0 => {}
            _ => capture.queue(word(&shown, 2, buffers - 1)?)?,
        }
    }
    peer.send(&format!("done {frames}"))?;
    line.push(("seq_first", sequences.0.to_string()));
    line.push(("seq_last", sequences.1.to_string()));
    line.push(("cpu_ns", process_cpu().as_nanos().to_string()));
    // The driver lets go of the dma-bufs; the collection stays.
    drop(capture);
    let line = Line(line.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    hold("camera", line)?;
    drop(allocation);
    drop(collection);
    drop(accord);
    Ok(())
}

fn player_side(
    socket: &Path,
    channel: &Path,
    card_path: &Path,
    frames: u32,
    checks: &[u32],
) -> Result<(), Error> {
    let deadline = Instant::now() + TIMEOUT;
    let stream = loop {
        match UnixStream::connect(channel) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return Err(format!("cannot reach the camera at {}: {e}", channel.display()).into())
            }
        }
    };
    let mut peer = Channel::new(stream)?;
    let (client, size) = CollectionWindow::open(socket)?;
    peer.send(&format!("size {} {}", size.0, size.1))?;
    let handle = peer.recv("handle")?;
    let handle = handle.get(1).ok_or("an empty handle")?;
    let accord = Accord::new(client.connection()).map_err(|e| format!("Accord: {e}"))?;
    let token = accord.import(handle);
    // The player touches no pixel: the format it asked the camera for
    // (XRGB8888, LINEAR, what the `wl_buffer`s carry) and no usage. The
    // frame on screen is camped by the compositor's participant.
    let constraints = Constraints::new().format(DRM_FORMAT_XRGB8888, MOD_LINEAR);
    let mut window = CollectionWindow::join(client, accord, token, "player", &constraints)?;
    let allocation = &window.allocation;
    let buffers = allocation.buffers.len() as u32;
    if buffers == 0 || buffers > MAX_BUFFERS {
        return Err(format!("{buffers} buffers, expected 1..={MAX_BUFFERS}").into());
    }
    // Every buffer's exporter, as this process sees the fds.
    let exporters: Vec<String> = allocation
        .buffers
        .iter()
        .map(|b| {
            b.planes
                .first()
                .and_then(|p| exp_name(&p.fd))
                .unwrap_or_else(|| "-".into())
        })
        .collect();
    let card = Card::open(card_path)?;
    card.enable_atomic()?;
    let plane = ScanoutTarget::first_connected(&card)?.plane;
    // The parent takes its "before" figures now, with the window mapped
    // and the collection allocated, and answers `go`.
    println!("{READY}");
    std::io::stdout().flush()?;
    let mut go = String::new();
    std::io::stdin().lock().take(MAX_LINE).read_line(&mut go)?;
    if go.trim_end() != "go" {
        return Err(format!("expected go on stdin, got {go:?}").into());
    }
    let mut samples = Vec::new();
    let mut on_screen: Option<u32> = None;
    for n in 0..frames {
        let msg = peer.recv("frame")?;
        if word(&msg, 1, u32::MAX)? != n {
            return Err(format!("{msg:?}: expected frame {n}").into());
        }
        let index = word(&msg, 2, buffers - 1)?;
        let sequence = word(&msg, 3, u32::MAX)?;
        window
            .client
            .present_wl_buffer(&window.wl_buffers[index as usize])?;
        if checks.contains(&n) {
            let b = &window.allocation.buffers[index as usize];
            samples.push(sample(&card, plane, b, n, sequence)?);
        }
        let release = on_screen.replace(index);
        peer.send(&match release {
            Some(r) => format!("shown {n} {r}"),
            None => format!("shown {n} -"),
        })?;
    }
    let done = peer.recv("done")?;
    if word(&done, 1, u32::MAX)? != frames {
        return Err(format!("{done:?}: expected done {frames}").into());
    }
    let shown = scanned_out(&card, plane)?;
    let last = on_screen.ok_or("no frame shown")? as usize;
    let last_is_camera_buffer =
        rustix::fs::fstat(&shown.dmabuf)?.st_ino == window.allocation.buffers[last].inode()?.1;
    drop(shown);
    let samples: Vec<String> = samples
        .iter()
        .map(|s| {
            format!(
                "{}:{}:{}:{}:{}:{}:{}",
                s.frame,
                s.sequence,
                s.buffer,
                u8::from(s.same_buffer),
                s.mismatched,
                s.pixels,
                s.colours
            )
        })
        .collect();
    let mut exporters_seen = exporters.clone();
    exporters_seen.sort();
    exporters_seen.dedup();
    drop(card);
    let line = Line(vec![
        ("frames".into(), frames.to_string()),
        ("buffers".into(), buffers.to_string()),
        ("exporters".into(), exporters_seen.join(",")),
        (
            "last_is_camera_buffer".into(),
            u8::from(last_is_camera_buffer).to_string(),
        ),
        ("samples".into(), samples.join(",")),
        ("cpu_ns".into(), process_cpu().as_nanos().to_string()),
    ]);
    hold("player", line)?;
    drop(window);
    Ok(())
}
