//! Per-client accounting over the wire: the default quota is 1 GiB, the
//! bytes come back only when the last holder (participant or `wl_buffer`)
//! releases the buffers.

use accord_client::FailureReason;
use accord_protocol::limits::DEFAULT_CLIENT_QUOTA;
use accord_tests::{xrgb_exact, TestServer};

#[test]
fn default_quota_is_one_gib_per_client() {
    assert_eq!(DEFAULT_CLIENT_QUOTA, 1 << 30);
    let server = TestServer::start();
    let (_a, a) = server.accord();
    let (_b, b) = server.accord();
    // 8192x8192x4 = 256 MiB per buffer: two collections of 512 MiB fill
    // the quota exactly.
    let first = a.create_collection().bind();
    first.commit(&xrgb_exact(8192, 8192, 2));
    let first_a = first.wait_allocated().expect("512 MiB fit");
    assert_eq!(first_a.buffers[0].size, 256 << 20);
    let second = a.create_collection().bind();
    second.commit(&xrgb_exact(8192, 8192, 2));
    let _second_a = second.wait_allocated().expect("1 GiB fits exactly");
    assert_eq!(server.charged_bytes(), 1 << 30);
    let third = a.create_collection().bind();
    third.commit(&xrgb_exact(64, 64, 1));
    let f = third.wait_allocated().expect_err("one more byte is over");
    assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
    assert!(
        f.message.contains("byte quota") && f.message.contains("of its 1073741824"),
        "{f}"
    );
    // Another client has its own quota.
    let other = b.create_collection().bind();
    other.commit(&xrgb_exact(8192, 8192, 2));
    assert!(
        other.wait_allocated().is_ok(),
        "another client is unaffected"
    );
}

#[test]
fn bytes_return_when_the_last_holder_releases() {
    let server = TestServer::start();
    let (_pc, producer) = server.accord();
    let (_cc, consumer) = server.accord();
    let token = producer.create_collection();
    let imported = consumer.import(&token.duplicate().export().unwrap());
    let (pcoll, ccoll) = (token.bind(), imported.bind());
    pcoll.commit(&xrgb_exact(64, 64, 2));
    ccoll.commit(&xrgb_exact(64, 64, 2));
    consumer.flush().unwrap();
    let pa = pcoll.wait_allocated().unwrap();
    let ca = ccoll.wait_allocated().unwrap();
    assert_eq!(pa.buffers.len(), 4, "camping 2 + 2");
    let bytes = 4 * 64 * 64 * 4;
    let wl = ccoll.wl_buffer(1);
    consumer.roundtrip().unwrap();
    assert_eq!(server.charged_bytes(), bytes);
    // The creator leaves: the consumer still holds the buffers.
    drop(pcoll);
    drop(pa);
    producer.roundtrip().unwrap();
    consumer.roundtrip().unwrap();
    assert_eq!(
        server.charged_bytes(),
        bytes,
        "the consumer still holds them"
    );
    // The consumer's collection goes; its wl_buffer still holds them.
    drop(ccoll);
    drop(ca);
    consumer.roundtrip().unwrap();
    assert_eq!(
        server.charged_bytes(),
        bytes,
        "the wl_buffer still holds them"
    );
    wl.destroy();
    consumer.roundtrip().unwrap();
    server.assert_no_bytes_held();
}
