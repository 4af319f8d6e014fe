//! Upstream's `GstVideoAlignment` turned into what the sink commits.
//!
//! A decoder that writes past the picture (macroblock rows, edge
//! emulation) asks the pool for padding around the picture and for
//! strides that are multiples of a power of two, per plane
//! (`GstBufferPoolOptionVideoAlignment`). The collection's buffers are then
//! the *coded* size (picture plus padding) with that stride alignment,
//! the `GstVideoMeta` plane offsets point past the top and left padding,
//! and the window crops the padding off with `wp_viewport`
//! ([`crate::window`]). Accord has one stride alignment for all planes:
//! the largest of the planes' (all are powers of two, so it is their LCM).

use gst_video::{VideoAlignment, VideoInfo};

/// Largest stride alignment the sink asks for (larger masks are refused
/// here, before the compositor sees them): 2^30 bytes.
const MAX_STRIDE_ALIGNMENT: u32 = 1 << 30;

/// What the sink commits for a picture and upstream's alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The picture's size (the caps').
    pub picture: (u32, u32),
    /// The buffers' size: the picture plus the padding on each side.
    pub coded: (u32, u32),
    /// Where the picture starts in the buffer (left and top padding).
    pub origin: (u32, u32),
    /// Stride multiple in bytes for every plane (1: none).
    pub stride_alignment: u32,
}

impl Plan {
    /// No padding, no stride alignment: the picture is the buffer.
    pub fn unpadded(info: &VideoInfo) -> Plan {
        Plan {
            picture: (info.width(), info.height()),
            coded: (info.width(), info.height()),
            origin: (0, 0),
            stride_alignment: 1,
        }
    }

    /// Whether the buffer is larger than the picture.
    pub fn padded(&self) -> bool {
        self.coded != self.picture
    }

    /// The alignment this plan meets, in GStreamer's terms (for a pool
    /// config corrected to what the pool has).
    pub fn video_alignment(&self, n_planes: u32) -> VideoAlignment {
        let mut masks = [0u32; gst_video::VIDEO_MAX_PLANES];
        for m in masks.iter_mut().take(n_planes as usize) {
            *m = self.stride_alignment - 1;
        }
        VideoAlignment::new(
            self.origin.1,
            self.coded.1 - self.picture.1 - self.origin.1,
            self.origin.0,
            self.coded.0 - self.picture.0 - self.origin.0,
            &masks,
        )
    }
}

/// The plan for `info` under upstream's `align` (`None`: no alignment).
/// Fails with a sentence when the alignment cannot be expressed: sizes
/// overflowing, a stride mask beyond [`MAX_STRIDE_ALIGNMENT`], or padding
/// that splits a chroma sample.
pub fn plan(info: &VideoInfo, align: Option<&VideoAlignment>) -> Result<Plan, String> {
    let mut plan = Plan::unpadded(info);
    let Some(a) = align else {
        return Ok(plan);
    };
    let finfo = info.format_info();
    let n_planes = finfo.n_planes() as usize;
    for (plane, &mask) in a.stride_align().iter().enumerate().take(n_planes) {
        // `stride & mask == 0` holds for every multiple of the power of
        // two above the mask's highest bit.
        let bits = 32 - mask.leading_zeros();
        let alignment = 1u64 << bits;
        if alignment > u64::from(MAX_STRIDE_ALIGNMENT) {
            return Err(format!(
                "plane {plane}'s stride mask {mask:#x} asks for more than {MAX_STRIDE_ALIGNMENT}-byte alignment"
            ));
        }
        plan.stride_alignment = plan.stride_alignment.max(alignment as u32);
    }
    // Padding on a subsampled plane must cover whole chroma samples, or
    // the plane's offset would fall inside one.
    let (w_sub, h_sub) = (
        finfo.w_sub().iter().copied().max().unwrap_or(0),
        finfo.h_sub().iter().copied().max().unwrap_or(0),
    );
    let whole = |pixels: u32, sub: u32| pixels % (1 << sub) == 0;
    if !(whole(a.padding_left(), w_sub)
        && whole(a.padding_right(), w_sub)
        && whole(a.padding_top(), h_sub)
        && whole(a.padding_bottom(), h_sub))
    {
        return Err(format!(
            "padding {}/{}/{}/{} (top/bottom/left/right) splits {}'s chroma samples",
            a.padding_top(),
            a.padding_bottom(),
            a.padding_left(),
            a.padding_right(),
            info.format()
        ));
    }
    let sum = |v: u32, x: u32, y: u32| v.checked_add(x)?.checked_add(y);
    let coded = sum(info.width(), a.padding_left(), a.padding_right())
        .zip(sum(info.height(), a.padding_top(), a.padding_bottom()))
        .ok_or("the picture and its padding overflow 32 bits")?;
    plan.coded = coded;
    plan.origin = (a.padding_left(), a.padding_top());
    Ok(plan)
}

/// The `GstVideoMeta` offset of each plane: the plane's start in the
/// buffer (`planes`: offset and stride per plane, as negotiated) moved
/// past the top and left padding.
pub fn picture_offsets(
    info: &VideoInfo,
    plan: &Plan,
    planes: &[(u64, u32)],
) -> Result<Vec<usize>, String> {
    let finfo = info.format_info();
    let n_components = finfo.n_components() as usize;
    planes
        .iter()
        .enumerate()
        .map(|(plane, &(offset, stride))| {
            // The first component stored in this plane gives its
            // subsampling and bytes per pixel.
            let comp = (0..n_components)
                .find(|&c| finfo.plane()[c] as usize == plane)
                .ok_or_else(|| format!("{} has no plane {plane}", info.format()))?;
            let rows = u64::from(finfo.scale_height(comp as u8, plan.origin.1));
            let columns = u64::from(finfo.scale_width(comp as u8, plan.origin.0));
            let pixel = u64::try_from(finfo.pixel_stride()[comp]).unwrap_or(0);
            rows.checked_mul(u64::from(stride))
                .and_then(|r| r.checked_add(columns.checked_mul(pixel)?))
                .and_then(|skip| offset.checked_add(skip))
                .and_then(|o| usize::try_from(o).ok())
                .ok_or_else(|| format!("plane {plane}'s offset overflows"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gst_video::VideoFormat;

    fn info(format: VideoFormat, w: u32, h: u32) -> VideoInfo {
        gst::init().expect("gst init");
        VideoInfo::builder(format, w, h).build().expect("info")
    }

    fn masks(m: u32) -> [u32; gst_video::VIDEO_MAX_PLANES] {
        [m; gst_video::VIDEO_MAX_PLANES]
    }

    #[test]
    fn no_alignment_is_the_picture() {
        let i = info(VideoFormat::Bgrx, 320, 240);
        let p = plan(&i, None).unwrap();
        assert_eq!(p, Plan::unpadded(&i));
        assert!(!p.padded());
        let zero = VideoAlignment::new(0, 0, 0, 0, &masks(0));
        assert_eq!(plan(&i, Some(&zero)).unwrap(), p);
    }

    #[test]
    fn padding_and_stride_masks_give_the_coded_size_and_alignment() {
        let i = info(VideoFormat::Bgrx, 320, 240);
        let a = VideoAlignment::new(8, 24, 16, 48, &[63, 0, 0, 0]);
        let p = plan(&i, Some(&a)).unwrap();
        assert_eq!(p.coded, (384, 272));
        assert_eq!(p.origin, (16, 8));
        assert_eq!(p.stride_alignment, 64);
        // A mask that is not all ones below its top bit: the power of two
        // above it.
        let odd = VideoAlignment::new(0, 0, 0, 0, &[0b1010, 0, 0, 0]);
        assert_eq!(plan(&i, Some(&odd)).unwrap().stride_alignment, 16);
        // Round trip through GStreamer's terms.
        assert_eq!(plan(&i, Some(&p.video_alignment(1))).unwrap(), p);
    }

    #[test]
    fn offsets_skip_the_padding_on_every_plane() {
        let i = info(VideoFormat::Bgrx, 320, 240);
        let a = VideoAlignment::new(8, 0, 16, 0, &masks(0));
        let p = plan(&i, Some(&a)).unwrap();
        assert_eq!(
            picture_offsets(&i, &p, &[(0, 1536)]).unwrap(),
            vec![8 * 1536 + 16 * 4]
        );
        // NV12: the chroma plane (2 bytes per sample, half the rows and
        // columns) starts at its own offset.
        let i = info(VideoFormat::Nv12, 320, 240);
        let a = VideoAlignment::new(4, 4, 8, 8, &masks(0));
        let p = plan(&i, Some(&a)).unwrap();
        assert_eq!(p.coded, (336, 248));
        let uv = 336 * 248;
        assert_eq!(
            picture_offsets(&i, &p, &[(0, 336), (uv, 336)]).unwrap(),
            vec![4 * 336 + 8, uv as usize + 2 * 336 + 4 * 2]
        );
    }

    #[test]
    fn impossible_alignments_are_refused() {
        let i = info(VideoFormat::Bgrx, 320, 240);
        let huge = VideoAlignment::new(0, 0, 0, 0, &[u32::MAX, 0, 0, 0]);
        assert!(plan(&i, Some(&huge)).unwrap_err().contains("stride mask"));
        let overflow = VideoAlignment::new(0, 0, u32::MAX, 1, &masks(0));
        assert!(plan(&i, Some(&overflow)).unwrap_err().contains("overflow"));
        let i = info(VideoFormat::Nv12, 320, 240);
        let split = VideoAlignment::new(1, 1, 0, 0, &masks(0));
        assert!(plan(&i, Some(&split)).unwrap_err().contains("chroma"));
    }
}
