//! GStreamer video formats and the DRM fourccs Accord negotiates.
//!
//! GStreamer names packed RGB formats by byte order in memory, DRM by the
//! little-endian 32-bit word: GStreamer's `BGRx` (bytes B, G, R, x) is
//! DRM's `XRGB8888`. The table lists the formats the sink offers upstream;
//! which of them a compositor can show is what the negotiation finds out.

use gst_video::VideoFormat;

/// `fourcc_code(a, b, c, d)` of `<drm_fourcc.h>`.
const fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

/// (GStreamer format, DRM fourcc), in the order offered upstream.
pub const FORMATS: &[(VideoFormat, u32)] = &[
    (VideoFormat::Bgrx, fourcc(b"XR24")),
    (VideoFormat::Bgra, fourcc(b"AR24")),
    (VideoFormat::Rgbx, fourcc(b"XB24")),
    (VideoFormat::Rgba, fourcc(b"AB24")),
    (VideoFormat::Nv12, fourcc(b"NV12")),
];

/// The DRM fourcc of `format`, if the sink offers it.
pub fn drm_fourcc(format: VideoFormat) -> Option<u32> {
    FORMATS
        .iter()
        .find_map(|&(f, code)| (f == format).then_some(code))
}

/// The formats of the sink pad template.
pub fn video_formats() -> impl Iterator<Item = VideoFormat> {
    FORMATS.iter().map(|&(f, _)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bgrx_is_xrgb8888() {
        assert_eq!(
            drm_fourcc(VideoFormat::Bgrx),
            Some(accord_client::DRM_FORMAT_XRGB8888)
        );
        assert_eq!(
            drm_fourcc(VideoFormat::Bgra),
            Some(accord_client::DRM_FORMAT_ARGB8888)
        );
        assert_eq!(
            drm_fourcc(VideoFormat::Nv12),
            Some(accord_client::DRM_FORMAT_NV12)
        );
        assert_eq!(drm_fourcc(VideoFormat::I420), None);
    }
}
