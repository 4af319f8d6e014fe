//! Colour spaces: how a buffer's values map to colours (primaries,
//! transfer function, YCbCr matrix and range), as sysmem2's
//! `fuchsia.images2.ColorSpace`. A participant lists the ones it handles,
//! ranked; the engine intersects the lists like formats.

/// A colour space; the values are the protocol's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColorSpace(pub u32);

impl ColorSpace {
    /// sRGB (RGB formats).
    pub const SRGB: ColorSpace = ColorSpace(1);
    /// ITU-R BT.601, limited range (YCbCr).
    pub const BT601: ColorSpace = ColorSpace(2);
    /// BT.601, full range.
    pub const BT601_FULL: ColorSpace = ColorSpace(3);
    /// ITU-R BT.709, limited range.
    pub const BT709: ColorSpace = ColorSpace(4);
    /// BT.709, full range.
    pub const BT709_FULL: ColorSpace = ColorSpace(5);
    /// ITU-R BT.2020, limited range.
    pub const BT2020: ColorSpace = ColorSpace(6);
    /// BT.2020, full range.
    pub const BT2020_FULL: ColorSpace = ColorSpace(7);
    /// ITU-R BT.2100 with the PQ transfer (HDR10): YCbCr or RGB.
    pub const BT2100_PQ: ColorSpace = ColorSpace(8);
    /// BT.2100 with the HLG transfer: YCbCr or RGB.
    pub const BT2100_HLG: ColorSpace = ColorSpace(9);

    /// Names in value order, as used by the JSON scenarios and the XML.
    pub const NAMES: [(&'static str, ColorSpace); 9] = [
        ("srgb", ColorSpace::SRGB),
        ("bt601", ColorSpace::BT601),
        ("bt601_full", ColorSpace::BT601_FULL),
        ("bt709", ColorSpace::BT709),
        ("bt709_full", ColorSpace::BT709_FULL),
        ("bt2020", ColorSpace::BT2020),
        ("bt2020_full", ColorSpace::BT2020_FULL),
        ("bt2100_pq", ColorSpace::BT2100_PQ),
        ("bt2100_hlg", ColorSpace::BT2100_HLG),
    ];

    /// Its name, or `None` for an undefined value.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(n, _)| *n)
    }

    /// The colour space called `name`.
    pub fn parse(name: &str) -> Option<ColorSpace> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
    }

    /// Is the value defined?
    pub fn is_defined(self) -> bool {
        self.name().is_some()
    }

    /// Can an RGB format carry it? sRGB, and BT.2100 (whose RGB form is
    /// what HDR10 scanout of 10-bit or half-float RGB uses). sysmem's
    /// `IsColorSpaceSupportedForPixelFormat` allows sRGB only for RGB.
    pub fn fits_rgb(self) -> bool {
        matches!(
            self,
            ColorSpace::SRGB | ColorSpace::BT2100_PQ | ColorSpace::BT2100_HLG
        )
    }

    /// Can a YCbCr format carry it? Every one but sRGB (as sysmem).
    pub fn fits_yuv(self) -> bool {
        self.is_defined() && self != ColorSpace::SRGB
    }
}

#[cfg(test)]
mod tests {
    use super::ColorSpace;

    #[test]
    fn names_round_trip() {
        for (n, c) in ColorSpace::NAMES {
            assert_eq!(ColorSpace::parse(n), Some(c));
            assert_eq!(c.name(), Some(n));
        }
        assert_eq!(ColorSpace(0).name(), None);
        assert!(ColorSpace::SRGB.fits_rgb() && !ColorSpace::SRGB.fits_yuv());
        assert!(ColorSpace::BT709.fits_yuv() && !ColorSpace::BT709.fits_rgb());
    }
}
