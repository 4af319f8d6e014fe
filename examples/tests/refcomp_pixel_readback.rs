//! A small wayland-client client against the in-process compositor: an shm
//! buffer of a known colour appears in the read-back output, pixel for pixel,
//! fullscreen covers the output (from the commit that applies its
//! configure, not before), and linux-dmabuf's default feedback lists
//! the formats Pixman imports. The counters show the composited path: the
//! bytes composition reads of the shm buffer (`bytes_composited`) and the
//! bytes each read-back copies (`bytes_copied`).

mod common;

use std::os::fd::AsFd;

use accord_examples::refcomp::{spawn, Config, RendererKind, Running, BACKGROUND};
use common::{
    client::{State, TestClient},
    near, TempRuntimeDir,
};
use wayland_client::{
    delegate_noop, protocol::wl_buffer::WlBuffer, Connection, Dispatch, QueueHandle,
};
use wayland_protocols::{
    wp::linux_dmabuf::zv1::client::{
        zwp_linux_buffer_params_v1 as params, zwp_linux_dmabuf_feedback_v1 as feedback,
        zwp_linux_dmabuf_v1,
    },
    xdg::shell::client::xdg_toplevel,
};

fn start(tag: &str) -> (TempRuntimeDir, Running) {
    let dir = TempRuntimeDir::new(tag);
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..common::config()
    })
    .expect("start compositor");
    (dir, compositor)
}

#[test]
fn shm_buffer_colour_appears_in_the_output() {
    let (_dir, compositor) = start("readback");
    let colour = [0x11, 0x22, 0x33];
    let mut client = TestClient::connect(&compositor);
    let window = client.toplevel(false);
    let buffer = client.shm_buffer((64, 48), colour);
    client.show(&window.surface, &buffer);

    // The frame callback came after the frame that drew the buffer: the
    // whole 64x48 XRGB8888 buffer was read once to compose it, and nothing
    // was copied yet.
    let shown = compositor.counters();
    assert_eq!(shown.bytes_composited, 64 * 48 * 4, "{shown}");
    common::assert_copied(shown.bytes_copied, 0, 64 * 48 * 4, &shown.to_string());

    let shot = compositor.screenshot().expect("screenshot");
    let want = [colour[0], colour[1], colour[2], 0xff];
    for (x, y) in [(0, 0), (63, 0), (0, 47), (63, 47), (31, 23)] {
        assert_eq!(
            shot.pixel(x, y),
            Some(want),
            "inside the window at ({x},{y})"
        );
    }
    for (x, y) in [(64, 0), (0, 48), (64, 48), (1279, 719)] {
        let p = shot.pixel(x, y).expect("in range");
        assert!(
            near(p, BACKGROUND),
            "outside the window at ({x},{y}): {p:?}"
        );
    }
    let counters = compositor.stop().expect("stop");
    assert!(counters.surface_commits >= 2, "{counters}");
    // Nothing changed after the buffer was shown: nothing more was read.
    assert_eq!(counters.bytes_composited, 64 * 48 * 4, "{counters}");
    // The screenshot is the one CPU copy: the whole 1280x720 output.
    common::assert_copied(
        counters.bytes_copied,
        1280 * 720 * 4,
        64 * 48 * 4,
        &counters.to_string(),
    );
}

#[test]
fn fullscreen_toplevel_gets_the_output_size_and_covers_it() {
    let (_dir, compositor) = start("fullscreen");
    let colour = [0xc0, 0x40, 0x08];
    let mut client = TestClient::connect(&compositor);
    let window = client.toplevel(true);
    assert_eq!(
        client.state.toplevel_size,
        (1280, 720),
        "fullscreen configure size"
    );
    let fullscreen = xdg_toplevel::State::Fullscreen as u32;
    assert!(
        client.state.toplevel_states.contains(&fullscreen),
        "states {:?}",
        client.state.toplevel_states
    );
    let buffer = client.shm_buffer((1280, 720), colour);
    client.show(&window.surface, &buffer);

    let shot = compositor.screenshot().expect("screenshot");
    let want = [colour[0], colour[1], colour[2], 0xff];
    for y in (0..720).step_by(9) {
        for x in (0..1280).step_by(9) {
            assert_eq!(shot.pixel(x, y), Some(want), "({x},{y})");
        }
    }
    assert_eq!(shot.pixel(1279, 719), Some(want));
    // Headless composes every frame: the fullscreen frame read the whole
    // shm buffer once (the background frames before it read no client
    // memory), nothing went direct, the screenshot copied the output once.
    let counters = compositor.stop().expect("stop");
    assert_eq!(counters.frames_direct, 0, "{counters}");
    assert!(counters.frames_composited >= 1, "{counters}");
    assert_eq!(counters.bytes_composited, 1280 * 720 * 4, "{counters}");
    common::assert_copied(
        counters.bytes_copied,
        1280 * 720 * 4,
        64 * 48 * 4,
        &counters.to_string(),
    );
}

/// A window goes fullscreen when its client applies the configure (its
/// first commit after acknowledging it), not at the request: frames drawn
/// in between still show it where it was, so the new state's first frame
/// is the client's buffer for it (`fullscreen.rs`, `move_on_apply`). Red
/// while the compositor moved the window at the request.
#[test]
fn a_window_goes_fullscreen_when_its_client_applies_the_configure() {
    let (_dir, compositor) = start("fullscreen-apply");
    let (red, green) = ([0xc0, 0x10, 0x10], [0x10, 0xc0, 0x10]);
    let mut client = TestClient::connect(&compositor);
    // The first window sits at (0, 0), the second 32 px further.
    let first = client.toplevel(false);
    let small = client.shm_buffer((16, 16), red);
    client.show(&first.surface, &small);
    let second = client.toplevel(false);
    let windowed = client.shm_buffer((64, 48), green);
    client.show(&second.surface, &windowed);
    let at = |shot: &accord_examples::refcomp::Screenshot, x, y| shot.pixel(x, y);
    let want = |c: [u8; 3]| Some([c[0], c[1], c[2], 0xff]);
    let shot = compositor.screenshot().expect("screenshot");
    assert_eq!(
        at(&shot, 40, 40),
        want(green),
        "the second window at (32, 32)"
    );
    assert!(near(at(&shot, 20, 20).expect("in range"), BACKGROUND));

    // The request, and the configure acknowledged (by the dispatch), but
    // no commit of the second surface yet. A frame drawn now (the first
    // window's commit) shows the second window where it was.
    second.toplevel.set_fullscreen(None);
    client.state.configured = false;
    client.dispatch_until(|s| s.configured);
    assert_eq!(client.state.toplevel_size, (1280, 720));
    client.show(&first.surface, &small);
    let shot = compositor.screenshot().expect("screenshot");
    assert!(
        near(at(&shot, 20, 20).expect("in range"), BACKGROUND),
        "before the client applied the configure, the window stays at (32, 32): {:?}",
        at(&shot, 20, 20)
    );
    assert_eq!(at(&shot, 40, 40), want(green));

    // The client applies it with its fullscreen buffer: moved and shown
    // in the same frame.
    let full = client.shm_buffer((1280, 720), green);
    client.show(&second.surface, &full);
    let shot = compositor.screenshot().expect("screenshot");
    for (x, y) in [(0, 0), (20, 20), (1279, 719)] {
        assert_eq!(at(&shot, x, y), want(green), "fullscreen at ({x},{y})");
    }
    compositor.stop().expect("stop");
}

/// The default feedback lists the renderer's import pairs: Pixman's
/// (LINEAR only); under GLES on Mesa's software EGL device, none, as that
/// device has no `EGL_EXT_image_dma_buf_import` (clients use shm).
#[test]
fn dmabuf_default_feedback_lists_the_renderer_formats() {
    let (_dir, compositor) = start("feedback");
    let mut client = TestClient::connect(&compositor);
    let qh = client.qh();
    let dmabuf: zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1 = client
        .globals
        .bind(&qh, 4..=5, ())
        .expect("zwp_linux_dmabuf_v1 version 4 or later");
    let _feedback = dmabuf.get_default_feedback(&qh, ());
    client.dispatch_until(|s| s.extra.feedback_done);
    let client = &mut client.state.extra;

    assert_eq!(
        client.main_device.as_deref().map(<[u8]>::len),
        Some(8),
        "dev_t main device"
    );
    let (fd, size) = client.format_table.take().expect("format_table event");
    if common::renderer() == RendererKind::Gles {
        assert_eq!(size, 0, "llvmpipe's software device imports no dma-buf");
        assert!(client.tranche_indices.is_empty());
        return;
    }
    // The table is an array of 16-byte entries: u32 format, u32 padding, u64 modifier.
    assert!(size > 0 && size % 16 == 0, "table size {size}");
    let table = std::fs::read(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .expect("read the format table");
    assert_eq!(table.len(), size as usize);
    let entries: Vec<(u32, u64)> = table
        .chunks_exact(16)
        .map(|e| {
            let format = u32::from_ne_bytes(e[0..4].try_into().unwrap());
            let modifier = u64::from_ne_bytes(e[8..16].try_into().unwrap());
            (format, modifier)
        })
        .collect();
    let fourcc = |s: &[u8; 4]| u32::from_le_bytes(*s);
    // Pixman imports LINEAR only; XRGB8888 and ARGB8888 are the formats every client uses.
    for name in [b"XR24", b"AR24"] {
        assert!(
            entries.contains(&(fourcc(name), 0)),
            "{} LINEAR missing from {entries:x?}",
            String::from_utf8_lossy(name)
        );
    }
    assert!(
        entries.iter().all(|&(_, modifier)| modifier == 0),
        "non-LINEAR modifier offered"
    );
    assert_eq!(
        client.tranche_indices.len(),
        entries.len(),
        "one tranche with every format"
    );
    drop(compositor);
}

/// A memfd is not a dma-buf: Pixman's import maps it but its
/// `DMA_BUF_IOCTL_SYNC` fails, so the compositor answers `failed` (not a
/// crash, not a protocol error) and keeps serving. This is why memfd-backed
/// buffers must reach Pixman as shm, never through linux-dmabuf. GLES on
/// the software device advertises no format, so the same request is a
/// protocol error (`invalid_format`) for that client, and the compositor
/// keeps serving the others.
#[test]
fn memfd_through_linux_dmabuf_fails_cleanly() {
    let (_dir, compositor) = start("memfd-dmabuf");
    let mut client = TestClient::connect(&compositor);
    let qh = client.qh();
    let dmabuf: zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1 = client
        .globals
        .bind(&qh, 4..=5, ())
        .expect("zwp_linux_dmabuf_v1");
    let (w, h) = (16, 16);
    let fd =
        rustix::fs::memfd_create("not-a-dmabuf", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
    rustix::fs::ftruncate(&fd, (w * h * 4) as u64).expect("size memfd");
    let request = dmabuf.create_params(&qh, ());
    request.add(fd.as_fd(), 0, 0, (w * 4) as u32, 0, 0); // LINEAR
    let xrgb8888 = u32::from_le_bytes(*b"XR24");
    request.create(w, h, xrgb8888, params::Flags::empty());
    if common::renderer() == RendererKind::Gles {
        let err = client
            .queue
            .roundtrip(&mut client.state)
            .expect_err("a format never offered accepted");
        let invalid_format = params::Error::InvalidFormat as u32;
        assert!(
            matches!(&err, wayland_client::DispatchError::Backend(wayland_client::backend::WaylandError::Protocol(p)) if p.code == invalid_format),
            "{err}"
        );
    } else {
        client.dispatch_until(|s| s.extra.params_outcome.is_some());
        assert_eq!(
            client.state.extra.params_outcome,
            Some(false),
            "a memfd imported as a dma-buf"
        );
    }
    drop(client);

    // Still serving: a shm client shows its colour.
    let colour = [0x01, 0x80, 0xfe];
    let mut client = TestClient::connect(&compositor);
    let window = client.toplevel(false);
    let buffer = client.shm_buffer((8, 8), colour);
    client.show(&window.surface, &buffer);
    let shot = compositor.screenshot().expect("screenshot");
    assert_eq!(
        shot.pixel(4, 4),
        Some([colour[0], colour[1], colour[2], 0xff])
    );
}

impl Dispatch<feedback::ZwpLinuxDmabufFeedbackV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &feedback::ZwpLinuxDmabufFeedbackV1,
        event: feedback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let extra = &mut state.extra;
        match event {
            feedback::Event::MainDevice { device } => extra.main_device = Some(device),
            feedback::Event::FormatTable { fd, size } => extra.format_table = Some((fd, size)),
            feedback::Event::TrancheFormats { indices } => extra.tranche_indices.extend(
                indices
                    .chunks_exact(2)
                    .map(|i| u16::from_ne_bytes([i[0], i[1]])),
            ),
            feedback::Event::Done => extra.feedback_done = true,
            _ => {}
        }
    }
}

impl Dispatch<params::ZwpLinuxBufferParamsV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &params::ZwpLinuxBufferParamsV1,
        event: params::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            params::Event::Created { .. } => state.extra.params_outcome = Some(true),
            params::Event::Failed => state.extra.params_outcome = Some(false),
            _ => {}
        }
    }

    wayland_client::event_created_child!(State, params::ZwpLinuxBufferParamsV1, [
        params::EVT_CREATED_OPCODE => (WlBuffer, ()),
    ]);
}

delegate_noop!(State: ignore zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1);
