//! (c) A client plus an `attach_surface` participant: a `wl_buffer` from
//! the collection is attached and committed, and its pixels appear in the
//! compositor's (Pixman, offscreen) output, read back and compared.

use accord_client::{Accord, Constraints, Usage, MOD_LINEAR};
use accord_tests::labelled_dmabuf::LabelledDmabuf;
use accord_tests::raw::{self, RawClient};
use accord_tests::{TestServer, OUTPUT_SIZE, XRGB8888};

/// `DRM_FORMAT_ABGR8888`: not in the test compositor's renderer formats.
const ABGR8888: u32 = u32::from_le_bytes(*b"AB24");

const RED: [u8; 4] = [0x00, 0x00, 0xff, 0xff]; // XRGB8888 little-endian B,G,R,X
const BLUE: [u8; 4] = [0xff, 0x00, 0x00, 0xff];

#[test]
fn c_collection_buffer_pixels_reach_the_output() {
    let server = TestServer::start();
    let conn = server.connect();
    let mut rawc = RawClient::new(conn.clone());
    let surface = raw::surface(&mut rawc);
    let accord = Accord::new(&conn).expect("accord");

    let token = accord.create_collection();
    token.set_name("painter");
    token.duplicate().attach_to_surface(&surface);
    let collection = token.bind();
    // The client prefers ABGR8888, which the compositor's renderer cannot
    // import: the compositor participant steers the choice to XRGB8888.
    collection.commit(
        &Constraints::new()
            .usage(Usage::CpuWrite)
            .format(ABGR8888, MOD_LINEAR)
            .format(XRGB8888, MOD_LINEAR)
            .min_size(40, 20)
            .stride_alignment(256)
            .buffers(1),
    );
    let a = collection.wait_allocated().expect("allocation");
    assert_eq!(
        a.format, XRGB8888,
        "the compositor's renderer formats apply"
    );
    let (w, h) = (a.width as usize, a.height as usize);
    assert!(w >= 40 && h >= 20 && w <= OUTPUT_SIZE.0 as usize && h <= OUTPUT_SIZE.1 as usize);

    let buf = &a.buffers[0];
    let stride = buf.planes[0].stride as usize;
    assert!(
        stride > w * 4,
        "stride padding is exercised ({stride} for width {w})"
    );
    {
        let mut map = buf.map().expect("map");
        let offset = buf.planes[0].offset as usize;
        for y in 0..h {
            for x in 0..w {
                let px = if x < w / 2 { RED } else { BLUE };
                let at = offset + y * stride + x * 4;
                map[at..at + 4].copy_from_slice(&px);
            }
        }
    }

    let wl_buffer = collection.wl_buffer(0);
    surface.attach(Some(&wl_buffer), 0, 0);
    surface.damage_buffer(0, 0, w as i32, h as i32);
    surface.commit();
    rawc.roundtrip().expect("commit accepted");
    accord.roundtrip().expect("no protocol error");

    let out = server
        .output()
        .expect("the compositor rendered the surface");
    let ow = OUTPUT_SIZE.0 as usize;
    let pixel = |x: usize, y: usize| {
        let at = (y * ow + x) * 4;
        [out[at], out[at + 1], out[at + 2], out[at + 3]]
    };
    let mut checked = 0;
    for y in 0..h {
        for x in 0..w {
            let want = if x < w / 2 { RED } else { BLUE };
            assert_eq!(pixel(x, y)[..3], want[..3], "pixel ({x}, {y})");
            checked += 1;
        }
    }
    // Outside the surface the output stays black.
    assert_eq!(pixel(ow - 1, OUTPUT_SIZE.1 as usize - 1)[..3], [0, 0, 0]);
    assert_eq!(checked, w * h);
}

#[test]
fn dmabuf_collections_give_smithay_dmabuf_wl_buffers() {
    let server = TestServer::builder()
        .allocator(LabelledDmabuf::boxed)
        .start();
    let conn = server.connect();
    let mut rawc = RawClient::new(conn.clone());
    let surface = raw::surface(&mut rawc);
    let accord = Accord::new(&conn).expect("accord");
    let collection = accord.create_collection().bind();
    collection.commit(
        &Constraints::new()
            .format(XRGB8888, MOD_LINEAR)
            .min_size(48, 16)
            .stride_alignment(512)
            .buffers(2),
    );
    let a = collection.wait_allocated().expect("allocation");
    assert_eq!(a.memory, accord_client::MemoryKind::DmaBuf);
    let wl_buffer = collection.wl_buffer(1);
    surface.attach(Some(&wl_buffer), 0, 0);
    surface.commit();
    rawc.roundtrip().unwrap();
    let seen = server
        .dmabuf_seen()
        .expect("smithay's get_dmabuf sees the wl_buffer");
    assert_eq!((seen.format, seen.modifier), (XRGB8888, MOD_LINEAR));
    assert_eq!((seen.width as u32, seen.height as u32), (a.width, a.height));
    assert_eq!(seen.strides, vec![a.buffers[1].planes[0].stride]);
    assert_eq!(seen.offsets, vec![a.buffers[1].planes[0].offset as u32]);
    assert_eq!(seen.strides[0] % 512, 0);
    assert_eq!(
        seen.inode,
        a.buffers[1].inode().unwrap().1,
        "buffer 1's memory"
    );
    assert_ne!(seen.inode, a.buffers[0].inode().unwrap().1);
}
