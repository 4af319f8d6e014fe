//! Weak participants (`set_weak`, protocol version 2) over real sockets:
//! they do not keep the buffers alive; when the last strong holder lets go
//! they get `close_weak_asap`, and one that does not release in time is
//! disconnected (`weak_not_released`, tested in `misuse.rs`).

use std::time::Duration;

use accord_client::{Accord, Collection};
use accord_tests::{xrgb_exact, TestServer};

/// A strong producer and a weak viewer of one 32×32 buffer, allocated.
fn pair(p: &Accord, v: &Accord) -> (Collection, Collection) {
    let token = p.create_collection();
    let handle = token.duplicate().export().unwrap();
    let strong = token.bind();
    strong.commit(&xrgb_exact(32, 32, 1));
    let weak = v.import(&handle).bind();
    weak.set_weak().expect("version 2");
    weak.commit(&xrgb_exact(32, 32, 1));
    v.flush().unwrap();
    strong.wait_allocated().expect("allocated");
    weak.wait_allocated().expect("allocated");
    (strong, weak)
}

/// Dispatches `v` until `weak` was told `close_weak_asap` (the module
/// learns of a release on its next flush or timer tick); whether it was.
fn told_to_let_go(v: &Accord, weak: &Collection) -> bool {
    for _ in 0..200 {
        v.roundtrip().unwrap();
        if weak.close_weak_requested() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn a_weak_viewer_is_told_to_let_go_when_the_strong_holder_does_and_obeys() {
    let server = TestServer::builder()
        .weak_release_timeout(Duration::from_millis(200))
        .start();
    let (_pc, p) = server.accord();
    let (_vc, v) = server.accord();
    let (strong, weak) = pair(&p, &v);
    v.roundtrip().unwrap();
    assert!(!weak.close_weak_requested(), "a strong holder is left");
    drop(strong);
    p.roundtrip().unwrap();
    assert!(
        told_to_let_go(&v, &weak),
        "close_weak_asap after the last strong holder left"
    );
    drop(weak);
    v.roundtrip().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    v.roundtrip().expect("released in time: no protocol error");
    server.assert_no_bytes_held();
}

#[test]
fn a_wl_buffer_is_a_strong_hold() {
    let server = TestServer::start();
    let (_pc, p) = server.accord();
    let (_vc, v) = server.accord();
    let (strong, weak) = pair(&p, &v);
    let wl = strong.wl_buffer(0);
    drop(strong);
    p.roundtrip().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    v.roundtrip().unwrap();
    assert!(
        !weak.close_weak_requested(),
        "the wl_buffer still holds them"
    );
    wl.destroy();
    p.roundtrip().unwrap();
    assert!(
        told_to_let_go(&v, &weak),
        "close_weak_asap once the wl_buffer is gone too"
    );
}
