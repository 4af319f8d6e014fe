//! A small wayland-client client against the in-process compositor: an shm
//! buffer of a known colour appears in the read-back output, pixel for pixel,
//! and linux-dmabuf's default feedback lists the formats Pixman imports.

mod common;

use std::{
    fs::File,
    io::Write,
    os::{fd::AsFd, unix::net::UnixStream},
};

use accord_examples::refcomp::{spawn, Config, Running, BACKGROUND};
use common::{near, TempRuntimeDir};
use wayland_client::{
    delegate_noop,
    globals::{registry_queue_init, GlobalListContents},
    protocol::{
        wl_buffer::WlBuffer, wl_callback::WlCallback, wl_compositor::WlCompositor,
        wl_registry::WlRegistry, wl_shm, wl_shm_pool::WlShmPool, wl_surface::WlSurface,
    },
    Connection, Dispatch, EventQueue, QueueHandle,
};
use wayland_protocols::{
    wp::linux_dmabuf::zv1::client::{
        zwp_linux_buffer_params_v1 as params, zwp_linux_dmabuf_feedback_v1 as feedback,
        zwp_linux_dmabuf_v1,
    },
    xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base},
};

#[derive(Default)]
struct Client {
    configured: bool,
    /// The last `xdg_toplevel.configure`: size and states.
    toplevel_size: (i32, i32),
    toplevel_states: Vec<u32>,
    frames_done: u32,
    format_table: Option<(std::os::fd::OwnedFd, u32)>,
    main_device: Option<Vec<u8>>,
    tranche_indices: Vec<u16>,
    feedback_done: bool,
    /// The outcome of `zwp_linux_buffer_params_v1.create`: true = created.
    params_outcome: Option<bool>,
}

fn connect(
    compositor: &Running,
) -> (
    Connection,
    EventQueue<Client>,
    wayland_client::globals::GlobalList,
) {
    let stream = UnixStream::connect(compositor.socket_path()).expect("connect to the socket");
    let conn = Connection::from_socket(stream).expect("wayland connection");
    let (globals, queue) = registry_queue_init::<Client>(&conn).expect("registry");
    (conn, queue, globals)
}

fn start(tag: &str) -> (TempRuntimeDir, Running) {
    let dir = TempRuntimeDir::new(tag);
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..Config::default()
    })
    .expect("start compositor");
    (dir, compositor)
}

/// A toplevel showing one shm buffer of one colour.
struct Window {
    _surface: WlSurface,
    _toplevel: xdg_toplevel::XdgToplevel,
    _buffer: WlBuffer,
}

/// Opens a toplevel, waits for its configure, then shows a `w`x`h` buffer of
/// `rgb` (or of the configured size when `w`/`h` are 0) and waits for the
/// frame callback, which the compositor sends after compositing the commit.
fn show_colour(
    compositor: &Running,
    fullscreen: bool,
    (w, h): (i32, i32),
    rgb: [u8; 3],
) -> (Client, Window, EventQueue<Client>, Connection) {
    let (conn, mut queue, globals) = connect(compositor);
    let qh = queue.handle();
    let wl_compositor: WlCompositor = globals.bind(&qh, 4..=5, ()).expect("wl_compositor");
    let shm: wl_shm::WlShm = globals.bind(&qh, 1..=1, ()).expect("wl_shm");
    let wm_base: xdg_wm_base::XdgWmBase = globals.bind(&qh, 1..=6, ()).expect("xdg_wm_base");

    let surface = wl_compositor.create_surface(&qh, ());
    let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
    let toplevel = xdg_surface.get_toplevel(&qh, ());
    toplevel.set_title("accord readback".into());
    if fullscreen {
        toplevel.set_fullscreen(None);
    }
    surface.commit();
    let mut client = Client::default();
    while !client.configured {
        queue.blocking_dispatch(&mut client).expect("dispatch");
    }
    let (w, h) = match (w, h) {
        (0, 0) => client.toplevel_size,
        size => size,
    };

    // XRGB8888: bytes B, G, R, X in memory.
    let stride = w * 4;
    let fd = rustix::fs::memfd_create("accord-readback", rustix::fs::MemfdFlags::CLOEXEC)
        .expect("memfd");
    let mut file = File::from(fd);
    let pixels: Vec<u8> = std::iter::repeat_n([rgb[2], rgb[1], rgb[0], 0xff], (w * h) as usize)
        .flatten()
        .collect();
    file.write_all(&pixels).expect("fill shm");
    let pool = shm.create_pool(file.as_fd(), stride * h, &qh, ());
    let buffer = pool.create_buffer(0, w, h, stride, wl_shm::Format::Xrgb8888, &qh, ());
    surface.attach(Some(&buffer), 0, 0);
    surface.damage_buffer(0, 0, w, h);
    surface.frame(&qh, ());
    surface.commit();
    while client.frames_done == 0 {
        queue.blocking_dispatch(&mut client).expect("dispatch");
    }
    let window = Window {
        _surface: surface,
        _toplevel: toplevel,
        _buffer: buffer,
    };
    (client, window, queue, conn)
}

#[test]
fn shm_buffer_colour_appears_in_the_output() {
    let (_dir, compositor) = start("readback");
    let colour = [0x11, 0x22, 0x33];
    let _shown = show_colour(&compositor, false, (64, 48), colour);

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
    assert_eq!(counters.bytes_copied, 0);
}

#[test]
fn fullscreen_toplevel_gets_the_output_size_and_covers_it() {
    let (_dir, compositor) = start("fullscreen");
    let colour = [0xc0, 0x40, 0x08];
    let (client, _window, _queue, _conn) = show_colour(&compositor, true, (0, 0), colour);
    assert_eq!(
        client.toplevel_size,
        (1280, 720),
        "fullscreen configure size"
    );
    let fullscreen = xdg_toplevel::State::Fullscreen as u32;
    assert!(
        client.toplevel_states.contains(&fullscreen),
        "states {:?}",
        client.toplevel_states
    );

    let shot = compositor.screenshot().expect("screenshot");
    let want = [colour[0], colour[1], colour[2], 0xff];
    for y in (0..720).step_by(9) {
        for x in (0..1280).step_by(9) {
            assert_eq!(shot.pixel(x, y), Some(want), "({x},{y})");
        }
    }
    assert_eq!(shot.pixel(1279, 719), Some(want));
}

#[test]
fn dmabuf_default_feedback_lists_pixman_formats() {
    let (_dir, compositor) = start("feedback");
    let (_conn, mut queue, globals) = connect(&compositor);
    let qh = queue.handle();
    let dmabuf: zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1 = globals
        .bind(&qh, 4..=5, ())
        .expect("zwp_linux_dmabuf_v1 version 4 or later");
    let _feedback = dmabuf.get_default_feedback(&qh, ());
    let mut client = Client::default();
    while !client.feedback_done {
        queue.blocking_dispatch(&mut client).expect("dispatch");
    }

    assert_eq!(
        client.main_device.as_deref().map(<[u8]>::len),
        Some(8),
        "dev_t main device"
    );
    let (fd, size) = client.format_table.take().expect("format_table event");
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
/// buffers must reach Pixman as shm, never through linux-dmabuf.
#[test]
fn memfd_through_linux_dmabuf_fails_cleanly() {
    let (_dir, compositor) = start("memfd-dmabuf");
    let (conn, mut queue, globals) = connect(&compositor);
    let qh = queue.handle();
    let dmabuf: zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1 =
        globals.bind(&qh, 4..=5, ()).expect("zwp_linux_dmabuf_v1");
    let (w, h) = (16, 16);
    let fd =
        rustix::fs::memfd_create("not-a-dmabuf", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
    rustix::fs::ftruncate(&fd, (w * h * 4) as u64).expect("size memfd");
    let request = dmabuf.create_params(&qh, ());
    request.add(fd.as_fd(), 0, 0, (w * 4) as u32, 0, 0); // LINEAR
    let xrgb8888 = u32::from_le_bytes(*b"XR24");
    request.create(w, h, xrgb8888, params::Flags::empty());
    let mut client = Client::default();
    while client.params_outcome.is_none() {
        queue
            .blocking_dispatch(&mut client)
            .expect("no protocol error");
    }
    assert_eq!(
        client.params_outcome,
        Some(false),
        "a memfd imported as a dma-buf"
    );
    drop((queue, conn));

    // Still serving: a shm client shows its colour.
    let colour = [0x01, 0x80, 0xfe];
    let _shown = show_colour(&compositor, false, (8, 8), colour);
    let shot = compositor.screenshot().expect("screenshot");
    assert_eq!(
        shot.pixel(4, 4),
        Some([colour[0], colour[1], colour[2], 0xff])
    );
}

impl Dispatch<WlRegistry, GlobalListContents> for Client {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: <WlRegistry as wayland_client::Proxy>::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for Client {
    fn event(
        _: &mut Self,
        wm: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for Client {
    fn event(
        state: &mut Self,
        surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            surface.ack_configure(serial);
            state.configured = true;
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for Client {
    fn event(
        state: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Configure {
            width,
            height,
            states,
        } = event
        {
            state.toplevel_size = (width, height);
            state.toplevel_states = states
                .chunks_exact(4)
                .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
                .collect();
        }
    }
}

impl Dispatch<WlCallback, ()> for Client {
    fn event(
        state: &mut Self,
        _: &WlCallback,
        _: wayland_client::protocol::wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        state.frames_done += 1;
    }
}

impl Dispatch<feedback::ZwpLinuxDmabufFeedbackV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &feedback::ZwpLinuxDmabufFeedbackV1,
        event: feedback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            feedback::Event::MainDevice { device } => state.main_device = Some(device),
            feedback::Event::FormatTable { fd, size } => state.format_table = Some((fd, size)),
            feedback::Event::TrancheFormats { indices } => state.tranche_indices.extend(
                indices
                    .chunks_exact(2)
                    .map(|i| u16::from_ne_bytes([i[0], i[1]])),
            ),
            feedback::Event::Done => state.feedback_done = true,
            _ => {}
        }
    }
}

delegate_noop!(Client: ignore WlCompositor);
delegate_noop!(Client: ignore WlSurface);
delegate_noop!(Client: ignore wl_shm::WlShm);
delegate_noop!(Client: ignore WlShmPool);
delegate_noop!(Client: ignore WlBuffer);
delegate_noop!(Client: ignore zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1);

impl Dispatch<params::ZwpLinuxBufferParamsV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &params::ZwpLinuxBufferParamsV1,
        event: params::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            params::Event::Created { .. } => state.params_outcome = Some(true),
            params::Event::Failed => state.params_outcome = Some(false),
            _ => {}
        }
    }

    wayland_client::event_created_child!(Client, params::ZwpLinuxBufferParamsV1, [
        params::EVT_CREATED_OPCODE => (WlBuffer, ()),
    ]);
}
