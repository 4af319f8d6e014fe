//! Issue 13: vivid (the kernel's virtual camera, `/dev/video0` in the guest)
//! as an Accord participant.
//! - `accord info` lists it, with its capture formats' DRM names and sizes.
//! - `accord_v4l2`'s constraints for XR24 at 640x480 and at the mode's
//!   size equal what the driver reports, checked with ioctls of our own
//!   (`S_FMT` with bytesperline inside and outside the probed range).
//! - A capture into an Accord collection allocated by the reference
//!   compositor (`--drm card0`: dumb buffers on virtio-gpu) through its real
//!   Wayland socket: every pixel of every buffer is written by vivid.

use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use accord_client::{Accord, MemoryKind, Usage, MOD_LINEAR};
use accord_examples::{
    kms_run::with_compositor,
    refcomp::{CounterSnapshot, DrmOptions},
};
use accord_fd_census::FdCensus;
use accord_v4l2::{fourcc::fourcc, CampingSource, Capture, Node};
use wayland_client::Connection;

use crate::{
    common::{exp_name, CARD0, MODE, VIDEO0, XR24},
    ensure,
    harness::{Outcome, TestResult},
    info::info_json,
};

/// vivid's largest bytesperline for a 32-bit format: `MAX_ZOOM *
/// MAX_WIDTH * 4` = 4 * 4096 * 4 (`vivid_try_fmt_vid_cap` in
/// drivers/media/test-drivers/vivid/vivid-vid-cap.c, Linux 6.1).
const VIVID_MAX_BPL_32: u32 = 65536;

fn vivid() -> Result<Node, String> {
    ensure!(
        std::path::Path::new(VIDEO0).exists(),
        "{VIDEO0} missing: tests/vm/run loads vivid into the guest"
    );
    let node = Node::open(VIDEO0).map_err(|e| e.to_string())?;
    ensure!(
        node.driver() == "vivid",
        "{VIDEO0} is {}, not vivid",
        node.driver()
    );
    Ok(node)
}

/// `accord info --json` and the tree list vivid's capture node with XR24
/// as XRGB8888 and the sizes the tests use; card0's mode is `MODE`.
pub fn info_lists_vivid() -> TestResult {
    let v = info_json()?;
    let video = v["v4l2"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["path"] == VIDEO0))
        .ok_or_else(|| format!("{VIDEO0} not listed: {}", v["v4l2"]))?;
    ensure!(video["error"].is_null(), "{VIDEO0}: {}", video["error"]);
    ensure!(video["driver"] == "vivid", "driver {}", video["driver"]);
    let caps: Vec<&str> = video["capabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect();
    ensure!(
        caps.contains(&"VIDEO_CAPTURE") && caps.contains(&"STREAMING"),
        "capabilities {caps:?}"
    );
    let formats = video["formats"].as_array().ok_or("no formats")?;
    let xr24 = formats
        .iter()
        .find(|f| f["fourcc"] == "XR24")
        .ok_or_else(|| format!("no XR24 among {formats:?}"))?;
    ensure!(xr24["drm"] == "XRGB8888", "XR24 maps to {}", xr24["drm"]);
    let sizes = &xr24["sizes"];
    ensure!(sizes["type"] == "discrete", "XR24 sizes {sizes}");
    for (w, h) in [(640, 480), MODE] {
        ensure!(
            sizes["sizes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| *s == serde_json::json!([w, h])),
            "XR24 sizes lack {w}x{h}: {sizes}"
        );
    }
    for (fourcc, drm) in [("NV12", "NV12"), ("YUYV", "YUYV"), ("AR24", "ARGB8888")] {
        ensure!(
            formats
                .iter()
                .any(|f| f["fourcc"] == fourcc && f["drm"] == drm),
            "no {fourcc} (DRM {drm}) among the formats"
        );
    }
    println!("  {VIDEO0}: vivid, {} capture formats", formats.len());
    let card0 = v["nodes"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["path"] == CARD0))
        .ok_or("card0 not listed")?;
    let mode = &card0["kms"]["connectors"][0]["modes"][0];
    let want = format!("{}x{}@", MODE.0, MODE.1);
    ensure!(
        mode.as_str().is_some_and(|m| m.starts_with(&want)),
        "card0's preferred mode {mode}, tests/vm/run asks for {}x{}",
        MODE.0,
        MODE.1
    );

    let out = Command::new(super::info::accord_bin()?)
        .arg("info")
        .output()
        .map_err(|e| format!("cannot run accord: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "V4L2 nodes\n",
        "/dev/video0\n│   ├───Driver: vivid",
        "XR24 (DRM XRGB8888): ",
    ] {
        ensure!(text.contains(want), "{want:?} missing from the tree");
    }
    Ok(Outcome::Passed)
}

/// The constraints at 640x480 and at the mode's size against the driver:
/// XR24/LINEAR, the size fixed, bytesperline = width * 4 as the minimum
/// stride, sizeimage = bytesperline * height (the measured 2560 and
/// 1228800 at 640x480), vivid's stride range (S_FMT takes a stride inside
/// it as given and clamps one above it), camping from REQBUFS (vivid has
/// no MIN_BUFFERS_FOR_CAPTURE control; its queue needs 2), usage capture.
/// A size vivid does not offer is refused, naming the sizes it does.
pub fn constraints_match_driver() -> TestResult {
    let node = vivid()?;
    for size in [(640, 480), MODE] {
        let c = node
            .constraints(fourcc(b"XR24"), size)
            .map_err(|e| e.to_string())?;
        println!("  {c}");
        let k = &c.constraints;
        ensure!(
            k.formats == vec![(XR24, MOD_LINEAR, false)],
            "formats {:?}",
            k.formats
        );
        ensure!(
            k.min_size == size && k.max_size == size,
            "size {:?}..{:?}",
            k.min_size,
            k.max_size
        );
        ensure!(k.usage == Usage::Capture, "usage {:?}", k.usage);
        ensure!(
            c.bytesperline == size.0 * 4 && k.min_stride == c.bytesperline,
            "bytesperline {} / min_stride {}, expected {}",
            c.bytesperline,
            k.min_stride,
            size.0 * 4
        );
        ensure!(
            c.sizeimage == c.bytesperline * size.1,
            "sizeimage {}, expected {}",
            c.sizeimage,
            c.bytesperline * size.1
        );
        if size == (640, 480) {
            ensure!(
                (c.bytesperline, c.sizeimage) == (2560, 1_228_800),
                "640x480: {} / {}, the issue measured 2560 / 1228800",
                c.bytesperline,
                c.sizeimage
            );
        }
        ensure!(
            k.max_stride == VIVID_MAX_BPL_32 && k.stride_alignment == 1,
            "stride range max {} align {}, vivid takes any bytesperline up to {VIVID_MAX_BPL_32}",
            k.max_stride,
            k.stride_alignment
        );
        ensure!(
            c.camping == 2 && c.camping_source == CampingSource::Reqbufs,
            "camping {} from {:?}, vivid's queue needs 2 (REQBUFS)",
            c.camping,
            c.camping_source
        );
        ensure!(
            k.buffer_counts.0 == c.camping,
            "buffer counts {:?}",
            k.buffer_counts
        );
        // The range is the driver's: a stride inside it is kept, one above
        // it clamped to the maximum.
        let padded = c.bytesperline + 256;
        let got = s_fmt_bpl(size, padded)?;
        ensure!(got == padded, "S_FMT bytesperline {padded} answered {got}");
        let got = s_fmt_bpl(size, k.max_stride + 4)?;
        ensure!(
            got == k.max_stride,
            "S_FMT bytesperline {} answered {got}, the probed maximum is {}",
            k.max_stride + 4,
            k.max_stride
        );
    }
    let refused = node.constraints(fourcc(b"XR24"), (1280, 800));
    match refused {
        Err(e) => {
            let msg = e.to_string();
            println!("  1280x800 refused: {msg}");
            ensure!(
                msg.starts_with(VIDEO0) && msg.contains("640x480") && msg.contains("1280x720"),
                "the refusal should name the node and the offered sizes: {msg}"
            );
        }
        Ok(c) => return Err(format!("1280x800 accepted: {c:?}")),
    }
    Ok(Outcome::Passed)
}

/// `S_FMT` XR24 at `size` with `bytesperline` on a fresh open of vivid;
/// the driver's bytesperline.
fn s_fmt_bpl(size: (u32, u32), bytesperline: u32) -> Result<u32, String> {
    use v4l2r::{ioctl, Format, PlaneLayout, QueueType};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(VIDEO0)
        .map_err(|e| e.to_string())?;
    let want = Format {
        width: size.0,
        height: size.1,
        pixelformat: fourcc(b"XR24").into(),
        plane_fmt: vec![PlaneLayout {
            sizeimage: 0,
            bytesperline,
        }],
    };
    let got: Format = ioctl::s_fmt(&mut file, (QueueType::VideoCapture, &want))
        .map_err(|e| format!("S_FMT: {e}"))?;
    Ok(got.plane_fmt.first().map_or(0, |p| p.bytesperline))
}

const FILL: u8 = 0xa5;
const FRAMES: u32 = 30;

/// vivid captures `FRAMES` frames at the mode's size into a collection the
/// reference compositor (`--drm card0`) allocated: dma-bufs of system
/// memory (the camera names no DRM device: the DMA-BUF heap on 6.12, the
/// placement event says so), queued with V4L2_MEMORY_DMABUF. Before the capture every
/// byte is set to 0xa5; after it, in every buffer, every pixel's X byte is
/// 0 (vivid writes 0 there for XR24) and no pixel is still 0xa5a5a5a5:
/// vivid wrote all of each buffer. The process's fds are back at their
/// count once the client and camera are gone.
pub fn captures_into_collection() -> TestResult {
    let parent = std::env::temp_dir();
    with_compositor(
        &parent,
        "v4l2",
        accord_examples::refcomp::RendererKind::Pixman,
        DrmOptions::new(CARD0),
        |compositor, baseline| {
            capture_run(compositor.socket_path())?;
            let fds_after = accord_fd_census::wait_for(
                &baseline.fds,
                Duration::from_secs(5),
                FdCensus::of_self,
            );
            let after = fds_after.map_err(|e| format!("fds not back after the capture: {e}"))?;
            println!("  fds: {} before, {after} after", baseline.fds);
            Ok(())
        },
    )
    .map_err(|e| format!("compositor on {CARD0}: {e}"))?;
    Ok(Outcome::Passed)
}

fn capture_run(socket: &std::path::Path) -> Result<(), String> {
    let node = vivid()?;
    let camera = node
        .constraints(fourcc(b"XR24"), MODE)
        .map_err(|e| e.to_string())?;
    let stream = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    let conn = Connection::from_socket(stream).map_err(|e| e.to_string())?;
    let accord = Accord::new(&conn).map_err(|e| format!("Accord: {e}"))?;
    let token = accord.create_collection();
    token.set_name("vivid");
    let collection = token.bind();
    collection.commit(&camera.constraints);
    let allocation = collection
        .wait_allocated()
        .map_err(|e| format!("the collection failed: {e}"))?;
    let n = allocation.buffers.len();
    println!(
        "  allocation: {} buffers {}x{} format {:#x} modifier {:#x} stride {} size {}",
        n,
        allocation.width,
        allocation.height,
        allocation.format,
        allocation.modifier,
        allocation.buffers[0].planes[0].stride,
        allocation.buffers[0].size
    );
    // Capture needs a dma-buf; the camera names no DRM device, so the
    // placement is system memory (the DMA-BUF heap on 6.12, or udmabuf),
    // not card0's, which nobody named (issue 14's placement rules).
    ensure!(
        allocation.memory == MemoryKind::DmaBuf,
        "memfd buffers: capture needs a dma-buf"
    );
    let placed = allocation.placement.as_ref().ok_or("no placement event")?;
    println!("  placement: {} ({})", placed.name, placed.backend);
    let system = ["dma-heap", "udmabuf"].contains(&placed.backend.as_str());
    for b in &allocation.buffers {
        let exporter = exp_name(&b.planes[0].fd);
        let expected = if system {
            ["system", "udmabuf"].contains(&exporter.as_deref().unwrap_or(""))
        } else {
            exporter.as_deref() == Some("virtio_gpu")
        };
        ensure!(
            expected && placed.device.is_none() == system,
            "buffer {} exported by {exporter:?}, placed on {placed:?}",
            b.index
        );
        b.map()
            .map_err(|e| format!("map buffer {}: {e}", b.index))?
            .fill(FILL);
    }
    let mut capture = Capture::start(node, &camera, &allocation).map_err(|e| e.to_string())?;
    let mut filled = vec![0u32; n];
    let mut last_sequence = None;
    for _ in 0..FRAMES {
        let frame = capture
            .dequeue(Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        ensure!(!frame.error, "frame {frame:?} flagged V4L2_BUF_FLAG_ERROR");
        ensure!(
            frame.bytesused == camera.sizeimage,
            "frame {frame:?}: bytesused {}, sizeimage {}",
            frame.bytesused,
            camera.sizeimage
        );
        ensure!(
            last_sequence.is_none_or(|s| frame.sequence > s),
            "sequence {} after {last_sequence:?}",
            frame.sequence
        );
        last_sequence = Some(frame.sequence);
        filled[frame.index as usize] += 1;
        capture.queue(frame.index).map_err(|e| e.to_string())?;
    }
    drop(capture);
    println!("  {FRAMES} frames captured, per buffer {filled:?}");
    ensure!(
        filled.iter().all(|&f| f > 0),
        "buffers never filled: {filled:?}"
    );
    let stride = allocation.buffers[0].planes[0].stride as usize;
    let (w, h) = (allocation.width as usize, allocation.height as usize);
    for b in &allocation.buffers {
        let bytes = b.map().map_err(|e| e.to_string())?;
        let mut untouched = 0usize;
        let mut bad_x = 0usize;
        for y in 0..h {
            for px in bytes[y * stride..y * stride + w * 4].chunks_exact(4) {
                if px == [FILL; 4] {
                    untouched += 1;
                }
                if px[3] != 0 {
                    bad_x += 1;
                }
            }
        }
        ensure!(
            untouched == 0 && bad_x == 0,
            "buffer {}: {untouched} pixels still 0x{FILL:02x}, {bad_x} X bytes not written as 0",
            b.index
        );
    }
    println!("  every pixel of the {n} buffers written by vivid");
    drop(allocation);
    drop(collection);
    drop(accord);
    Ok(())
}

/// The `camera-to-scanout` run (`accord_examples::camera_run`, what the
/// demo prints): one collection between the compositor (token attached to
/// a fullscreen surface) and vivid at the mode's size; 60 captured frames
/// shown by attaching their `wl_buffer`s, all 60 scanned out directly
/// (direct 60, composited 0, bytes copied 0, bytes read to compose 0), the
/// primary plane showing the last frame's collection buffer itself; at
/// frames 5, 30 and 59 the plane's framebuffer, read back, equals the
/// buffer vivid wrote, pixel for pixel (a picture of at least 8 colours);
/// the
/// buffers virtio_gpu dma-bufs, and the fds back at their count after.
pub fn camera_to_scanout_60_frames() -> TestResult {
    use accord_examples::camera_run::{run_camera, CameraRun};
    let mut run = CameraRun::new(CARD0, VIDEO0);
    run.frames = 60;
    run.check_frames = vec![5, 30, 59];
    let r = run_camera(&run).map_err(|e| format!("camera run: {e}"))?;
    let n = &r.negotiated;
    let d = &r.cost.delta;
    println!(
        "  decision: {:#x} modifier {:#x} {}x{} stride {} {} buffers, exporter {:?}",
        n.format, n.modifier, n.width, n.height, n.stride, n.buffers, n.exporter
    );
    println!(
        "  camera → scanout: {}/{} frames direct, {} composited, {} bytes copied, {} read to compose; \
         sequence {}..{}; compositor CPU {} us/frame, wall {} ms/frame",
        d.frames_direct,
        r.frames,
        d.frames_composited,
        d.bytes_copied,
        d.bytes_composited,
        r.sequences.0,
        r.sequences.1,
        r.cost.compositor_cpu.as_micros() / u128::from(r.frames),
        r.cost.wall.as_millis() / u128::from(r.frames)
    );
    ensure!(
        (n.format, n.modifier, (n.width, n.height)) == (XR24, MOD_LINEAR, MODE),
        "decision {n:?}: expected XR24/LINEAR at the mode's size"
    );
    ensure!(
        n.dmabuf && n.exporter.as_deref() == Some("virtio_gpu"),
        "buffers: dma-buf {} exported by {:?}, expected virtio_gpu dma-bufs",
        n.dmabuf,
        n.exporter
    );
    ensure!(
        n.buffers as u32 >= r.camera.camping + 2,
        "{} buffers: the camera camps {} and the display holds two (on screen, queued for the flip)",
        n.buffers,
        r.camera.camping
    );
    all_direct(d, 60)?;
    ensure!(
        r.sequences.1 > r.sequences.0,
        "camera sequence {}..{}",
        r.sequences.0,
        r.sequences.1
    );
    ensure!(
        r.samples.len() == run.check_frames.len(),
        "{} read-backs for {:?}",
        r.samples.len(),
        run.check_frames
    );
    for s in &r.samples {
        println!(
            "  frame {} (sequence {}, buffer {}): plane shows that buffer: {}; {} of {} pixels differ; {} colours",
            s.frame, s.sequence, s.buffer, s.same_buffer, s.mismatched, s.pixels, s.colours
        );
        ensure!(
            s.same_buffer && s.mismatched == 0 && s.colours >= 8,
            "read-back of frame {}: {s:?}",
            s.frame
        );
    }
    ensure!(
        r.scanout_is_camera_buffer,
        "the primary plane shows {}, not the camera's buffer",
        r.scanout_format
    );
    let after = r
        .fds_after
        .as_ref()
        .map_err(|e| format!("fds not back: {e}"))?;
    println!("  fds: {} before, {after} after", r.fds_before);
    charged_back_to_baseline(&r.charged, n.buffers as u64 * n.buffer_size)?;
    Ok(Outcome::Passed)
}

/// Zero-copy over `frames` frames: every one scanned out directly, nothing
/// composited, copied or read to compose.
fn all_direct(d: &CounterSnapshot, frames: u64) -> Result<(), String> {
    ensure!(
        d.frames_direct == frames && d.frames_composited == 0,
        "direct {} composited {} ({d})",
        d.frames_direct,
        d.frames_composited
    );
    ensure!(
        d.bytes_copied == 0 && d.bytes_composited == 0,
        "bytes copied {}, read to compose {}",
        d.bytes_copied,
        d.bytes_composited
    );
    Ok(())
}

/// The module's charged bytes: exactly one allocation (the collection's
/// buffers) more than before while the frames were shown, back at the
/// value before the clients came after they left.
fn charged_back_to_baseline(
    charged: &accord_examples::kms_run::Charged,
    collection_bytes: u64,
) -> Result<(), String> {
    println!("  charged bytes: {charged}");
    ensure!(
        charged.during == charged.before + collection_bytes,
        "charged {} while showing, {} before: expected exactly the collection's {collection_bytes} bytes more (one allocation)",
        charged.during,
        charged.before
    );
    charged
        .after
        .as_ref()
        .map(|_| ())
        .map_err(|e| format!("charged bytes not back: {e}"))
}

/// The same pipeline as two processes (`accord_examples::camera_pair`,
/// this binary run again as each): the camera process owns vivid, creates
/// the collection, exports a handle and captures; the player process
/// imports it, attaches its fullscreen surface and presents each frame
/// whose buffer index the camera sends. 60 frames, all scanned out
/// directly (direct 60, composited 0, bytes copied 0), the buffers
/// virtio_gpu dma-bufs in both processes (fdinfo), frames 5, 30 and 59 read
/// back through the plane equal to the buffer vivid wrote; while both
/// hold the collection the module charges exactly its one allocation, still
/// once the camera has left and the player holds it; after both exit the
/// compositor's fds and the module's charged bytes are back where they
/// were before the processes started.
pub fn camera_process_and_player_60_frames() -> TestResult {
    use accord_examples::camera_pair::{run_pair, PairRun};
    let mut run = PairRun::new(CARD0, VIDEO0);
    run.frames = 60;
    run.check_frames = vec![5, 30, 59];
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let r = run_pair(&run, &exe).map_err(|e| format!("camera pair: {e}"))?;
    let (c, p, d) = (&r.camera, &r.player, &r.delta);
    println!("  camera process: {c}");
    println!("  player process: {p}");
    println!(
        "  camera → scanout: {}/{} frames direct, {} composited, {} bytes copied, {} read to compose; \
         compositor CPU {} us/frame, wall {} ms/frame",
        d.frames_direct,
        r.frames,
        d.frames_composited,
        d.bytes_copied,
        d.bytes_composited,
        r.compositor_cpu.as_micros() / u128::from(r.frames),
        r.wall.as_millis() / u128::from(r.frames)
    );
    ensure!(
        (c.num("width"), c.num("height")) == (u64::from(MODE.0), u64::from(MODE.1))
            && c.get("format") == format!("{XR24:#x}")
            && c.get("modifier") == format!("{MOD_LINEAR:#x}"),
        "decision {c}: expected XR24/LINEAR at the mode's size"
    );
    ensure!(
        c.get("dmabuf") == "1" && c.get("exporter") == "virtio_gpu",
        "camera's buffers: {c}, expected virtio_gpu dma-bufs"
    );
    ensure!(
        p.get("exporters") == "virtio_gpu" && p.num("buffers") == c.num("buffers"),
        "player's buffers: {p}, expected the camera's {} virtio_gpu dma-bufs",
        c.num("buffers")
    );
    ensure!(
        c.num("buffers") > c.num("camping"),
        "{} buffers: the camera camps {} and the display holds one",
        c.num("buffers"),
        c.num("camping")
    );
    all_direct(d, 60)?;
    ensure!(
        c.num("seq_last") > c.num("seq_first"),
        "camera sequence {}..{}",
        c.get("seq_first"),
        c.get("seq_last")
    );
    let samples = r.samples();
    ensure!(
        samples.iter().map(|s| s.frame).collect::<Vec<_>>() == run.check_frames,
        "read-backs {samples:?} for {:?}",
        run.check_frames
    );
    for s in &samples {
        println!(
            "  frame {} (sequence {}, buffer {}): plane shows that buffer: {}; {} of {} pixels differ; {} colours",
            s.frame, s.sequence, s.buffer, s.same_buffer, s.mismatched, s.pixels, s.colours
        );
        ensure!(
            s.same_buffer && s.mismatched == 0 && s.colours >= 8,
            "read-back of frame {}: {s:?}",
            s.frame
        );
    }
    ensure!(
        p.get("last_is_camera_buffer") == "1",
        "the primary plane does not show the last frame's buffer"
    );
    let after = r
        .fds_after
        .as_ref()
        .map_err(|e| format!("compositor fds not back: {e}"))?;
    println!("  compositor fds: {} before, {after} after", r.fds_before);
    let bytes = c.num("buffers") * c.num("size");
    ensure!(bytes > 0, "the camera's line gives no buffers or size: {c}");
    charged_back_to_baseline(&r.charged, bytes)?;
    println!(
        "  charged bytes once the camera process left, the player still showing: {}",
        r.charged_camera_gone
    );
    ensure!(
        r.charged_camera_gone == r.charged.during,
        "charged {} once the camera left while the player holds the buffers, {} while both did: \
         the one allocation is charged until its last holder lets go",
        r.charged_camera_gone,
        r.charged.during
    );
    Ok(Outcome::Passed)
}

/// Issue 13's failure case: the camera in YUYV, which neither the primary
/// plane nor the renderer takes, against the compositor's participant:
/// the collection fails with `no_common_format`, and the message names the
/// camera and the compositor (what `camera-to-scanout --format YUYV`
/// prints before it exits 1).
pub fn yuyv_camera_fails_no_common_format() -> TestResult {
    use accord_examples::camera_run::{run_camera, CameraRun};
    let mut run = CameraRun::new(CARD0, VIDEO0);
    run.v4l2_format = fourcc(b"YUYV");
    run.frames = 1;
    let err = match run_camera(&run) {
        Ok(r) => return Err(format!("YUYV negotiated: {:?}", r.negotiated)),
        Err(e) => e.to_string(),
    };
    println!("  {err}");
    ensure!(
        err.contains("no_common_format")
            && err.contains("camera /dev/video0 (vivid)")
            && err.contains("compositor"),
        "expected no_common_format naming the camera and the compositor: {err}"
    );
    Ok(Outcome::Passed)
}
