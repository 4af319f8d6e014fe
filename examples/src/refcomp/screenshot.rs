//! A read-back copy of the output: RGBA8 pixels, PNG in and out.

use std::{fs::File, io::BufWriter, path::Path};

use super::Error;

/// The output's pixels, top row first, 4 bytes per pixel in R, G, B, A order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Screenshot {
    /// The pixel at (x, y), or `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        let p = self.rgba.get(i..i + 4)?;
        Some([p[0], p[1], p[2], p[3]])
    }

    /// Writes the image as an 8-bit RGBA PNG.
    pub fn write_png(&self, path: &Path) -> Result<(), Error> {
        let file = File::create(path)
            .map_err(|e| format!("cannot create screenshot {}: {e}", path.display()))?;
        let mut encoder = png::Encoder::new(BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.rgba)?;
        writer.finish()?;
        Ok(())
    }

    /// Reads an 8-bit RGBA or RGB PNG (as written by [`Screenshot::write_png`]).
    pub fn read_png(path: &Path) -> Result<Self, Error> {
        let file = File::open(path)
            .map_err(|e| format!("cannot open screenshot {}: {e}", path.display()))?;
        let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info()?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf)?;
        buf.truncate(info.buffer_size());
        let rgba = match (info.color_type, info.bit_depth) {
            (png::ColorType::Rgba, png::BitDepth::Eight) => buf,
            (png::ColorType::Rgb, png::BitDepth::Eight) => buf
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 0xff])
                .collect(),
            (color, depth) => {
                return Err(
                    format!("{}: unsupported PNG {color:?}/{depth:?}", path.display()).into(),
                )
            }
        };
        Ok(Self {
            width: info.width,
            height: info.height,
            rgba,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_and_pixel_bounds() {
        let shot = Screenshot {
            width: 3,
            height: 2,
            rgba: (0..24).collect(),
        };
        assert_eq!(shot.pixel(2, 1), Some([20, 21, 22, 23]));
        assert_eq!(shot.pixel(3, 0), None);
        assert_eq!(shot.pixel(0, 2), None);
        let path = std::env::temp_dir().join(format!("accord-shot-{}.png", std::process::id()));
        shot.write_png(&path).expect("write");
        let back = Screenshot::read_png(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        assert_eq!(back, shot);
    }
}
