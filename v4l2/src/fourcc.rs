//! V4L2 pixel formats ↔ DRM fourccs.
//!
//! Both APIs name formats with four characters, but not the same way: a
//! DRM fourcc describes a little-endian *word* (`XRGB8888` is `[31:0]
//! x:R:G:B`, so B,G,R,X in memory), a V4L2 fourcc names the *byte order*
//! in memory (`V4L2_PIX_FMT_XBGR32`, B,G,R,X). The table pairs formats
//! whose bytes in memory are the same, one buffer holding every plane
//! (V4L2's single-buffer formats: `NV12`, not `NV12M`). The 32-bit RGB
//! formats happen to share their code (`XR24` is `XR24` on both sides);
//! the 16- and 24-bit ones do not (V4L2 `RGB3`, R,G,B in memory, is DRM
//! `BGR888` = `BG24`). Formats without a DRM twin (compressed, Bayer, the
//! multi-buffer `*M` variants, `HSV`, ...) are absent: a camera offering
//! only those cannot join a collection.
//!
//! Sources: the kernel's `Documentation/userspace-api/media/v4l/pixfmt-rgb.rst`,
//! `pixfmt-yuv-*.rst` (byte order per format) and `include/uapi/drm/drm_fourcc.h`.

/// Characters in a fourcc.
pub const FOURCC_LEN: usize = 4;

/// A fourcc code from its four characters (`fourcc(b"XR24")`).
pub const fn fourcc(c: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*c)
}

/// The four characters of a fourcc (`'?'` for bytes that are not
/// printable ASCII), trailing spaces kept (`"R8  "`).
pub fn fourcc_str(code: u32) -> String {
    code.to_le_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// `V4L2_PIX_FMT_*` code.
    pub v4l2: u32,
    /// `DRM_FORMAT_*` code with the same bytes in memory.
    pub drm: u32,
    /// The V4L2 name without `V4L2_PIX_FMT_`.
    pub v4l2_name: &'static str,
    /// The DRM name without `DRM_FORMAT_`.
    pub drm_name: &'static str,
    /// Memory layout, first byte first.
    pub memory: &'static str,
}

const fn pair(
    v4l2: &[u8; 4],
    drm: &[u8; 4],
    v4l2_name: &'static str,
    drm_name: &'static str,
    memory: &'static str,
) -> Pair {
    Pair {
        v4l2: fourcc(v4l2),
        drm: fourcc(drm),
        v4l2_name,
        drm_name,
        memory,
    }
}

/// The table, one row per format.
pub const TABLE: &[Pair] = &[
    // 32-bit RGB: same code on both sides.
    pair(b"XR24", b"XR24", "XBGR32", "XRGB8888", "B,G,R,X"),
    pair(b"AR24", b"AR24", "ABGR32", "ARGB8888", "B,G,R,A"),
    pair(b"XB24", b"XB24", "RGBX32", "XBGR8888", "R,G,B,X"),
    pair(b"AB24", b"AB24", "RGBA32", "ABGR8888", "R,G,B,A"),
    pair(b"RX24", b"RX24", "BGRX32", "RGBX8888", "X,B,G,R"),
    pair(b"RA24", b"RA24", "BGRA32", "RGBA8888", "A,B,G,R"),
    pair(b"BX24", b"BX24", "XRGB32", "BGRX8888", "X,R,G,B"),
    pair(b"BA24", b"BA24", "ARGB32", "BGRA8888", "A,R,G,B"),
    // 24-bit RGB: the names cross.
    pair(b"RGB3", b"BG24", "RGB24", "BGR888", "R,G,B"),
    pair(b"BGR3", b"RG24", "BGR24", "RGB888", "B,G,R"),
    // 16-bit RGB (little-endian words on both sides).
    pair(
        b"RGBP",
        b"RG16",
        "RGB565",
        "RGB565",
        "[15:0] R5:G6:B5, little-endian",
    ),
    pair(
        b"RGBO",
        b"XR15",
        "RGB555",
        "XRGB1555",
        "[15:0] x1:R5:G5:B5, little-endian",
    ),
    pair(
        b"AR15",
        b"AR15",
        "ARGB555",
        "ARGB1555",
        "[15:0] A1:R5:G5:B5, little-endian",
    ),
    pair(
        b"XR15",
        b"XR15",
        "XRGB555",
        "XRGB1555",
        "[15:0] x1:R5:G5:B5, little-endian",
    ),
    pair(b"RGB1", b"RGB8", "RGB332", "RGB332", "[7:0] R3:G3:B2"),
    // Luma only.
    pair(b"GREY", b"R8  ", "GREY", "R8", "Y"),
    // Packed 4:2:2.
    pair(b"YUYV", b"YUYV", "YUYV", "YUYV", "Y0,Cb,Y1,Cr"),
    pair(b"YVYU", b"YVYU", "YVYU", "YVYU", "Y0,Cr,Y1,Cb"),
    pair(b"UYVY", b"UYVY", "UYVY", "UYVY", "Cb,Y0,Cr,Y1"),
    pair(b"VYUY", b"VYUY", "VYUY", "VYUY", "Cr,Y0,Cb,Y1"),
    // Semi-planar, both planes in one buffer (Y, then CbCr at stride*height).
    pair(
        b"NV12",
        b"NV12",
        "NV12",
        "NV12",
        "Y plane; Cb,Cr plane 2x2 subsampled",
    ),
    pair(
        b"NV21",
        b"NV21",
        "NV21",
        "NV21",
        "Y plane; Cr,Cb plane 2x2 subsampled",
    ),
    pair(
        b"NV16",
        b"NV16",
        "NV16",
        "NV16",
        "Y plane; Cb,Cr plane 2x1 subsampled",
    ),
    pair(
        b"NV61",
        b"NV61",
        "NV61",
        "NV61",
        "Y plane; Cr,Cb plane 2x1 subsampled",
    ),
    pair(
        b"NV24",
        b"NV24",
        "NV24",
        "NV24",
        "Y plane; Cb,Cr plane, full resolution",
    ),
    pair(
        b"NV42",
        b"NV42",
        "NV42",
        "NV42",
        "Y plane; Cr,Cb plane, full resolution",
    ),
    // Planar, three planes in one buffer.
    pair(
        b"YU12",
        b"YU12",
        "YUV420",
        "YUV420",
        "Y plane; Cb plane; Cr plane, 2x2 subsampled",
    ),
    pair(
        b"YV12",
        b"YV12",
        "YVU420",
        "YVU420",
        "Y plane; Cr plane; Cb plane, 2x2 subsampled",
    ),
    pair(
        b"422P",
        b"YU16",
        "YUV422P",
        "YUV422",
        "Y plane; Cb plane; Cr plane, 2x1 subsampled",
    ),
];

/// The row of a V4L2 pixel format.
pub fn by_v4l2(code: u32) -> Option<&'static Pair> {
    TABLE.iter().find(|p| p.v4l2 == code)
}

/// The DRM fourcc with the same bytes as V4L2's `code`.
pub fn v4l2_to_drm(code: u32) -> Option<u32> {
    by_v4l2(code).map(|p| p.drm)
}

/// The V4L2 pixel format with the same bytes as DRM's `code`. Where two
/// V4L2 codes share one DRM format (`RGBO` and `XR15` are both
/// `XRGB1555`), the first row wins: the older code, which more drivers
/// offer.
pub fn drm_to_v4l2(code: u32) -> Option<u32> {
    TABLE.iter().find(|p| p.drm == code).map(|p| p.v4l2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xr24_is_xrgb8888_b_g_r_x() {
        let p = by_v4l2(fourcc(b"XR24")).unwrap();
        assert_eq!(p.drm_name, "XRGB8888");
        assert_eq!(p.drm, 0x3432_5258, "DRM_FORMAT_XRGB8888");
        assert_eq!(p.memory, "B,G,R,X");
        assert_eq!(drm_to_v4l2(0x3432_5258), Some(fourcc(b"XR24")));
    }

    #[test]
    fn rgb24_crosses_names() {
        // V4L2 RGB24 is R,G,B in memory: DRM's BGR888 ([23:0] B:G:R).
        assert_eq!(v4l2_to_drm(fourcc(b"RGB3")), Some(fourcc(b"BG24")));
        assert_eq!(v4l2_to_drm(fourcc(b"BGR3")), Some(fourcc(b"RG24")));
        assert_eq!(drm_to_v4l2(fourcc(b"BG24")), Some(fourcc(b"RGB3")));
    }

    #[test]
    fn v4l2_codes_are_unique_and_round_trip() {
        for (i, p) in TABLE.iter().enumerate() {
            assert!(
                TABLE[..i].iter().all(|q| q.v4l2 != p.v4l2),
                "V4L2 {} twice",
                fourcc_str(p.v4l2)
            );
            assert_eq!(v4l2_to_drm(p.v4l2), Some(p.drm));
            // DRM -> V4L2 -> DRM is the identity (the first V4L2 twin wins).
            let back = drm_to_v4l2(p.drm).unwrap();
            assert_eq!(v4l2_to_drm(back), Some(p.drm));
        }
    }

    #[test]
    fn multi_buffer_and_compressed_formats_have_no_twin() {
        for code in [b"NM12", b"YM12", b"MJPG", b"BA81", b"H264"] {
            assert_eq!(
                v4l2_to_drm(fourcc(code)),
                None,
                "{}",
                fourcc_str(fourcc(code))
            );
        }
    }

    #[test]
    fn fourcc_str_keeps_padding() {
        assert_eq!(fourcc_str(fourcc(b"R8  ")), "R8  ");
        assert_eq!(fourcc_str(0x0000_0001), "????");
    }
}
