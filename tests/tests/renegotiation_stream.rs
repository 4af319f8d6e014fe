//! Renegotiation trigger 2 over real sockets: a producer changes
//! resolution mid-stream (1280×720 → 1920×1080) and the consumer follows.
//! Every frame is verified whole by the consumer (no torn, stale or lost
//! frame) and presented through the compositor (its output read back);
//! generation 1 stays valid until both participants have moved on and the
//! display no longer shows it; the quota is charged for both generations,
//! then each generation's bytes come back; the fds return to the baseline.
//! One test in its own binary, so no other test's fds move the count.

use std::time::Duration;

use accord_client::{
    Accord, Allocation, Collection, Constraints, Renegotiation, Usage, MOD_LINEAR,
};
use accord_tests::frames::{bytes, render, verify};
use accord_tests::raw::{self, RawClient};
use accord_tests::{assert_fds_return_to, fd_census, TestServer, OUTPUT_SIZE, XRGB8888};
use wayland_client::protocol::wl_surface::WlSurface;

/// The stream's constraints at `w`×`h`: the producer writes, 2 buffers.
fn stream(w: u32, h: u32) -> Constraints {
    Constraints::new()
        .usage(Usage::CpuWrite)
        .format(XRGB8888, MOD_LINEAR)
        .min_size(w, h)
        .buffers(2)
}

/// Present buffer `index` of generation `a.generation` on `surface` (a
/// `wl_buffer` named by its generation, destroyed once the compositor has
/// the frame) and check the compositor's output shows frame `frame`.
fn present(
    server: &TestServer,
    rawc: &mut RawClient,
    accord: &Accord,
    producer: &Collection,
    surface: &WlSurface,
    (a, index, frame): (&Allocation, usize, u32),
) {
    let wl = producer
        .generation_wl_buffer(a.generation, index as u32)
        .expect("version 2");
    accord.roundtrip().expect("get_generation_buffer accepted");
    surface.attach(Some(&wl), 0, 0);
    surface.damage_buffer(0, 0, OUTPUT_SIZE.0, OUTPUT_SIZE.1);
    surface.commit();
    rawc.roundtrip().expect("commit accepted");
    let out = server.output().expect("the compositor rendered the frame");
    // Output ARGB8888 little-endian: B, G, R, A; row 0 of the frame.
    let px = &out[..4];
    assert_eq!(
        [px[0], px[1], px[2]],
        [0, 0, frame as u8],
        "the output shows frame {frame}"
    );
    wl.destroy();
    accord.roundtrip().expect("wl_buffer destroyed");
}

#[test]
fn a_producer_changes_resolution_mid_stream_and_the_consumer_follows() {
    let server = TestServer::builder()
        .min_generation_interval(Duration::ZERO)
        .start();
    let baseline = fd_census();
    {
        let pconn = server.connect();
        let mut rawc = RawClient::new(pconn.clone());
        let surface = raw::surface(&mut rawc);
        let p = Accord::new(&pconn).expect("accord");
        let (_cconn, c) = server.accord();

        let token = p.create_collection();
        token.set_name("producer");
        let handle = token.duplicate().export().expect("handle");
        let producer = token.bind();
        let ctoken = c.import(&handle);
        ctoken.set_name("consumer");
        let consumer = ctoken.bind();
        producer.commit(&stream(1280, 720));
        consumer.commit(
            &Constraints::new()
                .usage(Usage::CpuRead)
                .format(XRGB8888, MOD_LINEAR)
                .buffers(1),
        );
        c.flush().expect("the consumer's constraints are sent");
        let pa = producer.wait_allocated().expect("generation 1");
        let ca = consumer.wait_allocated().expect("generation 1");
        assert_eq!((pa.generation, ca.generation), (1, 1));
        assert_eq!((pa.width, pa.height), (1280, 720));
        let count = pa.buffers.len();
        let one = bytes(&pa);
        server.wait_charged(one, "generation 1 charged");

        let mut frame = 0u32;
        let mut checked = 0;
        for _ in 0..4 {
            let i = frame as usize % count;
            render(&pa, i, frame);
            present(&server, &mut rawc, &p, &producer, &surface, (&pa, i, frame));
            checked += verify(&ca, i, frame);
            frame += 1;
        }

        // The stream switches to 1080p.
        producer.recommit(&stream(1920, 1080)).expect("version 2");
        let Renegotiation::Generation(pb) = producer.wait_renegotiation().expect("answer") else {
            panic!("a new size is a new generation")
        };
        assert_eq!(pb.generation, 2);
        assert_eq!((pb.width, pb.height), (1920, 1080));
        assert_eq!(producer.generation(), Some(2));
        let two = bytes(&pb);
        server.wait_charged(one + two, "both generations charged");

        // Frames in flight still go out in generation 1: its buffers are
        // valid for both, and the consumer has not switched yet.
        for _ in 0..2 {
            let i = frame as usize % count;
            render(&pa, i, frame);
            present(&server, &mut rawc, &p, &producer, &surface, (&pa, i, frame));
            checked += verify(&ca, i, frame);
            frame += 1;
        }

        // The consumer follows at its frame boundary: the same memory.
        let Renegotiation::Generation(cb) = consumer.wait_renegotiation().expect("answer") else {
            panic!("the consumer gets generation 2")
        };
        assert_eq!(cb.generation, 2);
        let inodes = |a: &Allocation| -> Vec<(u64, u64)> {
            a.buffers
                .iter()
                .map(|b| b.inode().expect("fstat"))
                .collect()
        };
        assert_eq!(inodes(&cb), inodes(&pb));
        assert_ne!(inodes(&cb), inodes(&pa), "new memory");

        // Both move on from generation 1.
        producer.release_generation(1).expect("release");
        drop(pa);
        p.roundtrip().expect("released");
        server.wait_charged(one + two, "the consumer still holds generation 1");
        consumer.release_generation(1).expect("release");
        drop(ca);
        c.roundtrip().expect("released");
        // The surface still shows frame 5, from generation 1: not freed
        // while the display may read it.
        server.wait_charged(one + two, "the display still holds generation 1");

        for n in 0..4 {
            let i = frame as usize % count;
            render(&pb, i, frame);
            present(&server, &mut rawc, &p, &producer, &surface, (&pb, i, frame));
            checked += verify(&cb, i, frame);
            frame += 1;
            if n == 0 {
                server.wait_charged(two, "generation 1 drained");
            }
        }
        assert_eq!(frame, 10);
        assert_eq!(checked, 6 * 1280 * 720 + 4 * 1920 * 1080);
        drop((pb, cb, producer, consumer, surface));
        p.roundtrip().expect("fine");
        c.roundtrip().expect("fine");
    }
    server.assert_no_bytes_held();
    assert_fds_return_to(&baseline, "after both generations");
}
