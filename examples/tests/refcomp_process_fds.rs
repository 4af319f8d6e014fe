//! The `accord-compositor` process's fds, counted by kind from
//! `/proc/<pid>/fd` (`accord_fd_census`): an Accord client negotiates a
//! memfd collection with the compositor as a participant, shows its
//! buffers, a `wl_shm` client shows one buffer, and a client leaves in the
//! middle of a message with an fd attached. While they are connected the
//! census sees their sockets and the collection's memfds; once they have
//! left, every kind is back at its count before them.

mod common;

use std::{os::unix::net::UnixStream, time::Duration};

use accord_client::{Accord, Constraints, MemoryKind, Usage, MOD_LINEAR};
use accord_examples::demo::{pattern, window::Window, XRGB8888};
use common::{assert_fds_back, fd_census, signal, start_compositor, wait_exit, TempRuntimeDir};
use rustix::process::Signal;
use wayland_client::Connection;

const SIZE: (u32, u32) = (64, 32);

/// Kills the compositor if the test fails before stopping it.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn compositor_process_fds_return_to_their_census_after_clients_leave() {
    let dir = TempRuntimeDir::new("process-fds");
    let (child, _stdout, name) = start_compositor(&dir, &[]);
    let mut child = Reap(child);
    let socket = dir.path().join(&name);
    let before = fd_census(&child.0);

    for round in 0..3 {
        let conn =
            Connection::from_socket(UnixStream::connect(&socket).expect("connect")).expect("conn");
        let mut window = Window::open(&conn, "fd census").expect("toplevel");
        let accord = Accord::new(&conn).expect("the Accord global");
        let token = accord.create_collection();
        token.duplicate().attach_to_surface(&window.surface);
        let collection = token.bind();
        collection.commit(
            &Constraints::new()
                .usage(Usage::CpuWrite)
                .format(XRGB8888, MOD_LINEAR)
                .min_size(SIZE.0, SIZE.1)
                .max_size(SIZE.0, SIZE.1)
                .buffers(2),
        );
        let allocation = collection.wait_allocated().expect("allocated");
        assert_eq!(allocation.memory, MemoryKind::Memfd);
        let buffers = window.buffers(&collection, allocation.buffers.len() as u32);
        for (frame, index) in [(1u32, 0usize), (2, 1)] {
            let buffer = &allocation.buffers[index];
            let layout = pattern::Layout::of(buffer).expect("a plane");
            pattern::draw(frame, layout, &mut buffer.map().expect("map")).expect("fits");
            window.present(&buffers, index).expect("present");
        }

        // Connected and showing: the census sees the client's socket and
        // the memfds the compositor allocated and keeps.
        let during = fd_census(&child.0);
        assert!(
            during.sockets > before.sockets,
            "round {round}: no client socket in the census: {before} → {during}"
        );
        assert!(
            during.memfds >= before.memfds + allocation.buffers.len(),
            "round {round}: the collection's {} memfds are not in the census: {before} → {during}",
            allocation.buffers.len()
        );

        // A second client leaves in the middle of a message that carries an
        // fd (a memfd of its own).
        let half = UnixStream::connect(&socket).expect("connect");
        accord_tests::abrupt::partial_message(half, 1, 1, true);
        drop((buffers, allocation, collection, accord, window, conn));
        assert_fds_back(
            &child.0,
            &before,
            &format!("round {round}: after the clients left"),
        );
    }

    signal(&child.0, Signal::TERM);
    let status = wait_exit(&mut child.0, Duration::from_secs(10));
    assert!(status.success(), "compositor exited with {status}");
}
