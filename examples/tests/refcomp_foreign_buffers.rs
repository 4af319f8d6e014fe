//! The foreign-buffer path (`ForeignBuffers`): buffers smithay does not
//! import are kept per surface, drawn by wrapping their bytes, and released
//! when replaced. The fixture claims ordinary `wl_shm` buffers, so smithay's
//! own path never sees them (the compositor detaches them from smithay's
//! view): any pixel of theirs on the output was drawn by the foreign path.

mod common;

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use accord_examples::refcomp::{spawn_with, Compositor, Config, Running, BACKGROUND};
use common::{client::TestClient, near, shm_as_foreign::ShmAsForeign, TempRuntimeDir};
use wayland_client::Proxy;

fn start(dir: &TempRuntimeDir) -> (Running, Arc<AtomicUsize>) {
    let draws = Arc::new(AtomicUsize::new(0));
    let hook = ShmAsForeign {
        draws: draws.clone(),
    };
    let config = Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..common::config()
    };
    let compositor = spawn_with(config, move |config| {
        let mut compositor = Compositor::headless(config)?;
        compositor.state_mut().foreign = Some(Arc::new(hook));
        Ok(compositor)
    })
    .expect("start compositor");
    (compositor, draws)
}

#[test]
fn foreign_buffers_are_drawn_and_released_when_replaced() {
    let dir = TempRuntimeDir::new("foreign");
    let (compositor, draws) = start(&dir);
    let mut client = TestClient::connect(&compositor);
    let window = client.toplevel(false);

    let first = client.shm_buffer((40, 30), [0xaa, 0x10, 0x20]);
    client.show(&window.surface, &first);
    let shot = compositor.screenshot().expect("screenshot");
    assert_eq!(shot.pixel(0, 0), Some([0xaa, 0x10, 0x20, 0xff]));
    assert_eq!(shot.pixel(39, 29), Some([0xaa, 0x10, 0x20, 0xff]));
    assert!(near(shot.pixel(40, 0).expect("in range"), BACKGROUND));
    assert!(draws.load(Ordering::Relaxed) > 0, "foreign path never drew");

    // A second buffer replaces the first, which is then released.
    let second = client.shm_buffer((20, 20), [0x05, 0xee, 0x70]);
    client.show(&window.surface, &second);
    client.sync();
    assert!(
        client.state.released.contains(&first.id()),
        "first buffer not released"
    );
    assert!(
        !client.state.released.contains(&second.id()),
        "shown buffer released"
    );
    let shot = compositor.screenshot().expect("screenshot");
    assert_eq!(shot.pixel(10, 10), Some([0x05, 0xee, 0x70, 0xff]));
    // The damage tracker redrew the area the bigger first buffer covered.
    assert!(near(shot.pixel(30, 25).expect("in range"), BACKGROUND));

    // Detaching shows nothing and releases the second buffer.
    window.surface.attach(None, 0, 0);
    window.surface.frame(&client.qh(), ());
    window.surface.commit();
    client.sync();
    assert!(
        client.state.released.contains(&second.id()),
        "detached buffer not released"
    );
    let frames = compositor.counters().frames_rendered;
    compositor.wait_for(std::time::Duration::from_secs(5), |c| {
        c.frames_rendered >= frames + 2
    });
    let shot = compositor.screenshot().expect("screenshot");
    assert!(near(shot.pixel(10, 10).expect("in range"), BACKGROUND));
    // Drawn in place; the three screenshots are the only copies.
    let counters = compositor.stop().expect("stop");
    common::assert_copied(
        counters.bytes_copied,
        3 * 1280 * 720 * 4,
        1,
        &counters.to_string(),
    );
}
