//! The compositor as a participant: the constraints it commits for a
//! surface a token was attached to, and the default names of participants.

use accord_engine::{FormatModifier, Usage};
use wayland_server::{Client, DisplayHandle};

/// Who holds a slot, for its default participant name (`participant I of
/// pid N`): the client's process, or its connection when the credentials
/// cannot be read.
pub(crate) fn holder(client: &Client, dh: &DisplayHandle) -> String {
    match client.get_credentials(dh) {
        Ok(c) => format!("pid {}", c.pid),
        Err(_) => format!("client {:?}", client.id()),
    }
}

/// Buffers the compositor holds while it composites a surface: the one it
/// last sampled, kept until the next commit replaces it.
pub(crate) const CAMPING_COMPOSITED: u32 = 1;

/// Buffers it holds on direct scanout: one on screen and one queued for
/// the page flip that replaces it.
pub(crate) const CAMPING_SCANOUT: u32 = 2;

/// The devices the compositor's participant names (`dev_t`s).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Devices {
    /// Where its renderer imports from (`None`: a CPU renderer).
    pub(crate) renderer: Option<u64>,
    /// The KMS device of the planes that may scan the surface out.
    pub(crate) display: Option<u64>,
}

/// The compositor's own constraints for a surface: sample what the
/// renderer imports; scanout when planes are offered. It names its
/// renderer's device (composited buffers must be importable there) and,
/// when planes are offered, its display's (scanout buffers are made by
/// the display's device itself; `accord_engine::placements`). Its camping is what
/// it really holds (sysmem's `min_buffer_count_for_camping`), so a client
/// that camps 2 of its own is not starved: [`CAMPING_SCANOUT`] when
/// planes are offered (the surface may go to a plane), else
/// [`CAMPING_COMPOSITED`].
pub(crate) fn compositor_constraints(
    renderer: Vec<FormatModifier>,
    scanout: &[FormatModifier],
    devices: Devices,
) -> accord_engine::Constraints {
    let mut usage = Usage::SAMPLE;
    if !scanout.is_empty() {
        usage |= Usage::SCANOUT;
    }
    let formats = renderer
        .into_iter()
        .map(|mut f| {
            f.scanout = scanout
                .iter()
                .any(|s| s.format == f.format && s.modifier == f.modifier);
            f
        })
        .collect();
    let camping = if usage.contains(Usage::SCANOUT) {
        CAMPING_SCANOUT
    } else {
        CAMPING_COMPOSITED
    };
    accord_engine::Constraints {
        usage,
        formats,
        buffers: accord_engine::BufferCounts {
            camping,
            ..Default::default()
        },
        devices: devices.renderer.into_iter().collect(),
        scanout_devices: if usage.contains(Usage::SCANOUT) {
            devices.display.into_iter().collect()
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_engine::MOD_LINEAR;

    fn pair(format: u32) -> FormatModifier {
        FormatModifier {
            format,
            modifier: MOD_LINEAR,
            scanout: false,
        }
    }

    #[test]
    fn compositor_samples_without_planes() {
        let devices = Devices {
            renderer: None,
            display: Some(0xe200),
        };
        let c = compositor_constraints(vec![pair(1), pair(2)], &[], devices);
        assert_eq!(c.usage, Usage::SAMPLE);
        assert!(
            c.scanout_devices.is_empty(),
            "no planes, no display to name"
        );
        assert!(c.devices.is_empty(), "a CPU renderer names no device");
        assert!(c.formats.iter().all(|f| !f.scanout));
        assert_eq!(c.buffers.camping, 1, "one buffer held while composited");
    }

    #[test]
    fn planes_add_scanout_and_mark_their_pairs() {
        let devices = Devices {
            renderer: Some(0xe280),
            display: Some(0xe200),
        };
        let c = compositor_constraints(vec![pair(1), pair(2)], &[pair(2), pair(3)], devices);
        assert_eq!(c.usage, Usage::SAMPLE | Usage::SCANOUT);
        assert_eq!((c.devices, c.scanout_devices), (vec![0xe280], vec![0xe200]));
        assert_eq!(
            c.formats
                .iter()
                .map(|f| (f.format, f.scanout))
                .collect::<Vec<_>>(),
            vec![(1, false), (2, true)],
            "renderer formats only; plane-only pairs are not added"
        );
        assert_eq!(
            c.buffers.camping, 2,
            "one buffer on screen and one queued for the flip"
        );
    }
}
