//! Frames whose every pixel says which frame it is: renegotiation tests
//! write them into one participant's mapping and verify them whole in
//! another's, so a torn, stale or lost frame is seen.

use accord_client::Allocation;

/// A frame's pixel: frame number in red, row in green and blue, so a
/// buffer holding rows of two frames (torn) or of another frame is seen.
pub fn pixel(frame: u32, y: usize) -> u32 {
    (frame & 0xff) << 16 | (y as u32 & 0xffff)
}

/// Write frame `frame` into buffer `index` of `a`, whole.
pub fn render(a: &Allocation, index: usize, frame: u32) {
    let b = &a.buffers[index];
    let (stride, offset) = (b.planes[0].stride as usize, b.planes[0].offset as usize);
    let mut map = b.map().expect("map");
    for y in 0..b.height as usize {
        let row = pixel(frame, y).to_le_bytes();
        let start = offset + y * stride;
        for px in map[start..start + b.width as usize * 4].chunks_exact_mut(4) {
            px.copy_from_slice(&row);
        }
    }
}

/// Check that buffer `index` of `a` holds frame `frame`, every pixel.
pub fn verify(a: &Allocation, index: usize, frame: u32) -> usize {
    let b = &a.buffers[index];
    let (stride, offset) = (b.planes[0].stride as usize, b.planes[0].offset as usize);
    let map = b.map().expect("map");
    let mut checked = 0;
    for y in 0..b.height as usize {
        let want = pixel(frame, y).to_le_bytes();
        let start = offset + y * stride;
        for (x, px) in map[start..start + b.width as usize * 4]
            .chunks_exact(4)
            .enumerate()
        {
            assert_eq!(
                px, want,
                "frame {frame}: pixel ({x}, {y}) of buffer {index}"
            );
            checked += 1;
        }
    }
    checked
}

/// Bytes of every buffer of an allocation (what the quota charges).
pub fn bytes(a: &Allocation) -> u64 {
    a.buffers.iter().map(|b| b.size).sum()
}
