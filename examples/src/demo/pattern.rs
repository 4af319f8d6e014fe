//! The demo's frames: every pixel is a function of the frame number, and the
//! top [`HEADER_ROWS`] rows spell that number in 32 black/white cells (most
//! significant bit first), so a reader can both decode which frame it sees
//! and check every pixel of it exactly.
//!
//! Pixels are XRGB8888 (`0xffRRGGBB` as a little-endian `u32`: B, G, R, X
//! in memory). Rows are `stride` bytes apart; padding is left untouched.

/// Rows at the top that carry the frame number.
pub const HEADER_ROWS: u32 = 16;
/// Cells of the frame number (one per bit).
pub const BITS: u32 = 32;

/// The XRGB8888 value of pixel (x, y) of frame `frame` in a `width`-wide image.
pub fn pixel(frame: u32, width: u32, x: u32, y: u32) -> u32 {
    let cell = (width / BITS).max(1);
    let (r, g, b) = if y < HEADER_ROWS {
        let bit = x / cell;
        if bit >= BITS {
            (0x80, 0x80, 0x80)
        } else if (frame >> (BITS - 1 - bit)) & 1 == 1 {
            (0xff, 0xff, 0xff)
        } else {
            (0, 0, 0)
        }
    } else {
        let r = x.wrapping_add(frame.wrapping_mul(2)) & 0xff;
        let g = y.wrapping_add(frame) & 0xff;
        let checker = ((x.wrapping_add(frame)) / 32 + y / 32) & 1;
        (r, g, if checker == 1 { 0xc0 } else { 0x40 })
    };
    0xff00_0000 | (r << 16) | (g << 8) | b
}

/// The pixel as RGBA8, the way a screenshot of the output shows it.
pub fn rgba(frame: u32, width: u32, x: u32, y: u32) -> [u8; 4] {
    let [b, g, r, _] = pixel(frame, width, x, y).to_le_bytes();
    [r, g, b, 0xff]
}

/// Where a frame lives in a mapped buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    pub offset: usize,
    pub stride: usize,
}

impl Layout {
    /// The layout of an Accord buffer's first plane; `None` without planes.
    pub fn of(buffer: &accord_client::Buffer) -> Option<Layout> {
        let plane = buffer.planes.first()?;
        Some(Layout {
            width: buffer.width,
            height: buffer.height,
            offset: usize::try_from(plane.offset).ok()?,
            stride: plane.stride as usize,
        })
    }

    /// The byte range of row `y`, if it fits in `len` bytes.
    fn row(&self, y: u32, len: usize) -> Option<std::ops::Range<usize>> {
        let start = self
            .offset
            .checked_add((y as usize).checked_mul(self.stride)?)?;
        let end = start.checked_add((self.width as usize).checked_mul(4)?)?;
        (end <= len).then_some(start..end)
    }
}

/// Why a buffer does not hold the expected frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The layout does not fit in the mapping.
    OutOfBounds,
    /// The first differing pixel.
    Pixel {
        x: u32,
        y: u32,
        expected: u32,
        found: u32,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::OutOfBounds => write!(f, "the layout does not fit in the buffer"),
            Mismatch::Pixel {
                x,
                y,
                expected,
                found,
            } => write!(
                f,
                "pixel ({x}, {y}) is {found:#010x}, expected {expected:#010x}"
            ),
        }
    }
}

impl std::error::Error for Mismatch {}

/// Writes frame `frame` into `bytes`.
pub fn draw(frame: u32, layout: Layout, bytes: &mut [u8]) -> Result<(), Mismatch> {
    let len = bytes.len();
    for y in 0..layout.height {
        let row = layout.row(y, len).ok_or(Mismatch::OutOfBounds)?;
        for (x, px) in bytes[row].chunks_exact_mut(4).enumerate() {
            px.copy_from_slice(&pixel(frame, layout.width, x as u32, y).to_le_bytes());
        }
    }
    Ok(())
}

/// Checks that `bytes` hold frame `frame`, every pixel (the X byte included).
pub fn verify(frame: u32, layout: Layout, bytes: &[u8]) -> Result<(), Mismatch> {
    for y in 0..layout.height {
        let row = layout.row(y, bytes.len()).ok_or(Mismatch::OutOfBounds)?;
        for (x, px) in bytes[row].chunks_exact(4).enumerate() {
            let found = u32::from_le_bytes([px[0], px[1], px[2], px[3]]);
            let expected = pixel(frame, layout.width, x as u32, y);
            if found != expected {
                return Err(Mismatch::Pixel {
                    x: x as u32,
                    y,
                    expected,
                    found,
                });
            }
        }
    }
    Ok(())
}

/// Reads the frame number from the header cells of an image `width` wide;
/// `rgb(x, y)` gives a pixel's red, green and blue. `None` if a cell is
/// neither black nor white (not one of our frames).
pub fn decode(width: u32, rgb: impl Fn(u32, u32) -> Option<[u8; 3]>) -> Option<u32> {
    let cell = (width / BITS).max(1);
    let mut frame = 0u32;
    for bit in 0..BITS {
        let [r, g, b] = rgb(bit * cell + cell / 2, HEADER_ROWS / 2)?;
        let one = match (r, g, b) {
            (0xff, 0xff, 0xff) => 1,
            (0, 0, 0) => 0,
            _ => return None,
        };
        frame = (frame << 1) | one;
    }
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Layout = Layout {
        width: 100,
        height: 40,
        offset: 64,
        stride: 512,
    };

    #[test]
    fn drawn_frames_verify_and_decode() {
        let mut bytes = vec![0u8; 64 + 512 * 40];
        draw(77, L, &mut bytes).expect("fits");
        assert_eq!(verify(77, L, &bytes), Ok(()));
        assert!(matches!(verify(78, L, &bytes), Err(Mismatch::Pixel { .. })));
        let at = |x: u32, y: u32| {
            let i = 64 + y as usize * 512 + x as usize * 4;
            Some([bytes[i + 2], bytes[i + 1], bytes[i]])
        };
        assert_eq!(decode(L.width, at), Some(77));
        // Padding after each row is untouched.
        assert_eq!(bytes[64 + 400..64 + 512], [0u8; 112][..]);
    }

    #[test]
    fn one_changed_pixel_is_found() {
        let mut bytes = vec![0u8; 64 + 512 * 40];
        draw(5, L, &mut bytes).expect("fits");
        bytes[64 + 512 * 30 + 4 * 9] ^= 1;
        assert_eq!(
            verify(5, L, &bytes).map_err(|m| match m {
                Mismatch::Pixel { x, y, .. } => (x, y),
                Mismatch::OutOfBounds => (0, 0),
            }),
            Err((9, 30))
        );
    }

    #[test]
    fn layouts_past_the_end_are_rejected() {
        let mut bytes = vec![0u8; 64 + 512 * 39 + 399];
        assert_eq!(draw(1, L, &mut bytes), Err(Mismatch::OutOfBounds));
        assert_eq!(verify(1, L, &bytes), Err(Mismatch::OutOfBounds));
    }
}
