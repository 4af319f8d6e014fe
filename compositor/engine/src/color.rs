//! Colour spaces: intersected like formats, chosen per candidate format.
//!
//! Participants that list colour spaces must share one: the common ones
//! are those every such participant lists (an empty list means "any", as
//! sysmem's `DO_NOT_CARE`), ranked by the sum of their positions in the
//! lists, then by value, so no participant's order wins and the order the
//! participants come in does not matter. For a candidate (format,
//! modifier) the chosen colour space is the best-ranked common one the
//! format can carry: sRGB and BT.2100 for RGB formats, the YCbCr ones for
//! YUV formats (sysmem's `IsColorSpaceSupportedForPixelFormat`, which
//! allows sRGB only for RGB and the BT ones only for YUV; Accord adds
//! BT.2100's RGB form, what HDR10 scanout of 10-bit RGB uses). A format
//! the engine has no table for takes any. A candidate with none is a
//! misfit; no common colour space at all fails the collection with
//! `no_common_format`, naming the participants whose lists share nothing.

use crate::aggregate::{failure, pname};
use crate::{formats, ColorSpace, Constraints, Failure, FailureReason};

/// The common colour spaces, best first; `None` when nobody lists one.
pub(crate) fn common(c: &[Constraints]) -> Result<Option<Vec<ColorSpace>>, Failure> {
    let listing: Vec<&Constraints> = c.iter().filter(|p| !p.color_spaces.is_empty()).collect();
    let Some(first) = listing.first() else {
        return Ok(None);
    };
    let mut ranked: Vec<(u64, ColorSpace)> = Vec::new();
    for cs in &first.color_spaces {
        if ranked.iter().any(|(_, r)| r == cs) {
            continue;
        }
        let mut sum = 0u64;
        let everyone = listing
            .iter()
            .all(|p| match p.color_spaces.iter().position(|x| x == cs) {
                Some(i) => {
                    sum += i as u64;
                    true
                }
                None => false,
            });
        if everyone {
            ranked.push((sum, *cs));
        }
    }
    if ranked.is_empty() {
        let lists: Vec<String> = listing
            .iter()
            .map(|p| format!("{} [{}]", pname(p), names(&p.color_spaces)))
            .collect();
        let mut lists = lists;
        lists.sort();
        return Err(failure(
            FailureReason::NoCommonFormat,
            format!("no colour space in common: {}", lists.join(", ")),
            listing.iter().map(|p| pname(p)).collect(),
        ));
    }
    ranked.sort();
    Ok(Some(ranked.into_iter().map(|(_, cs)| cs).collect()))
}

/// Can `format` carry `cs`?
pub(crate) fn fits(format: u32, cs: ColorSpace) -> bool {
    match formats::info(format) {
        None => cs.is_defined(),
        Some(_) if formats::is_yuv(format) => cs.fits_yuv(),
        Some(_) => cs.fits_rgb(),
    }
}

/// The colour space for a candidate of `format`: `Ok(None)` when nobody
/// listed one, `Err` when no common one fits the format.
pub(crate) fn choose(
    c: &[Constraints],
    common: Option<&[ColorSpace]>,
    format: u32,
) -> Result<Option<ColorSpace>, Failure> {
    let Some(common) = common else {
        return Ok(None);
    };
    if let Some(cs) = common.iter().find(|cs| fits(format, **cs)) {
        return Ok(Some(*cs));
    }
    Err(failure(
        FailureReason::NoCommonFormat,
        format!(
            "{} can carry none of the common colour spaces [{}]",
            formats::name(format),
            names(common)
        ),
        c.iter()
            .filter(|p| !p.color_spaces.is_empty())
            .map(pname)
            .collect(),
    ))
}

/// `bt709, srgb` (undefined values as numbers).
pub(crate) fn names(list: &[ColorSpace]) -> String {
    list.iter()
        .map(|cs| cs.name().map_or_else(|| cs.0.to_string(), str::to_string))
        .collect::<Vec<_>>()
        .join(", ")
}
