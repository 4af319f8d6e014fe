use accord_engine::{
    solve, BufferCounts, Constraints, Decision, FormatModifier, Usage, MOD_LINEAR,
};

pub const CARD0: &str = "/dev/dri/card0";
pub const CARD1: &str = "/dev/dri/card1";
/// vivid's capture node (the first video node the guest has).
pub const VIDEO0: &str = "/dev/video0";

/// virtio-gpu's mode in the guest: `tests/vm/run` sets `xres=1280,yres=720`
/// on the device, a size vivid's webcam input captures.
pub const MODE: (u32, u32) = (1280, 720);

pub const XR24: u32 = u32::from_le_bytes(*b"XR24");
pub const AR24: u32 = u32::from_le_bytes(*b"AR24");
pub const NV12: u32 = u32::from_le_bytes(*b"NV12");

/// A participant with linear `formats` (marked `scanout` as given), a fixed
/// size and `camping` buffers.
pub fn participant(
    name: &str,
    usage: Usage,
    formats: &[(u32, bool)],
    size: (u32, u32),
    camping: u32,
) -> Constraints {
    Constraints {
        name: name.into(),
        usage,
        formats: formats
            .iter()
            .map(|&(format, scanout)| FormatModifier {
                format,
                modifier: MOD_LINEAR,
                scanout,
            })
            .collect(),
        min_size: size,
        max_size: size,
        buffers: BufferCounts {
            camping,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The Pixman renderer's import pairs: LINEAR ARGB8888 and XRGB8888.
pub fn pixman_renderer() -> [FormatModifier; 2] {
    [AR24, XR24].map(|format| FormatModifier {
        format,
        modifier: MOD_LINEAR,
        scanout: false,
    })
}

/// The engine's decision for these participants.
pub fn negotiate(participants: &[Constraints]) -> Result<Decision, String> {
    solve(participants).map_err(|f| format!("negotiation failed: {:?}: {}", f.reason, f.message))
}

/// One participant's linear decision for `format` (the engine lays it out).
pub fn linear_decision(format: u32, width: u32, height: u32, count: u32, usage: Usage) -> Decision {
    let p = participant("test", usage, &[(format, false)], (width, height), count);
    negotiate(&[p]).expect("a single participant always negotiates")
}

/// `/proc/self/fdinfo/<fd>`'s `exp_name`, present only for dma-bufs.
pub fn exp_name(fd: &impl std::os::fd::AsRawFd) -> Option<String> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("exp_name:"))
        .map(|v| v.trim().to_string())
}

/// A client of `compositor` with a `wl_surface` (for `attach_surface`) and
/// the Accord client library on the same connection.
pub struct SurfaceClient {
    /// The connection and the queue the surface was made on, kept alive
    /// as long as the surface and the library are used.
    _conn: wayland_client::Connection,
    _raw: accord_tests::raw::RawClient,
    pub surface: wayland_client::protocol::wl_surface::WlSurface,
    pub accord: accord_client::Accord,
}

/// Run `body` against `accord-compositor --drm card0` started in-process
/// with a runtime directory of its own (`tag` names it), removed after.
pub fn with_drm_compositor<T>(
    tag: &str,
    body: impl FnOnce(&accord_examples::refcomp::Running) -> Result<T, String>,
) -> Result<T, String> {
    use accord_examples::refcomp::{spawn_with, Compositor, Config, DrmOptions, RendererKind};
    let runtime_dir = std::env::temp_dir().join(format!("accord-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&runtime_dir).map_err(|e| e.to_string())?;
    let config = Config {
        runtime_dir: Some(runtime_dir.clone()),
        renderer: RendererKind::Pixman,
        ..Config::default()
    };
    let result = spawn_with(config, |config| {
        Compositor::drm(config, &DrmOptions::new(CARD0))
    })
    .map_err(|e| format!("compositor on {CARD0}: {e}"))
    .and_then(|compositor| body(&compositor));
    let _ = std::fs::remove_dir_all(&runtime_dir);
    result
}

/// Connect to `compositor`: a surface and the Accord client library.
pub fn surface_client(
    compositor: &accord_examples::refcomp::Running,
) -> Result<SurfaceClient, String> {
    let stream = std::os::unix::net::UnixStream::connect(compositor.socket_path())
        .map_err(|e| e.to_string())?;
    let conn = wayland_client::Connection::from_socket(stream).map_err(|e| e.to_string())?;
    let mut raw = accord_tests::raw::RawClient::new(conn.clone());
    let surface = accord_tests::raw::surface(&mut raw);
    let accord = accord_client::Accord::new(&conn).map_err(|e| format!("Accord: {e}"))?;
    Ok(SurfaceClient {
        _conn: conn,
        _raw: raw,
        surface,
        accord,
    })
}
