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
