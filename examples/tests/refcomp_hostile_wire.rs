//! Raw bytes a hostile client writes to `accord-compositor`'s socket.
//!
//! FUZZING.md finding 8: `wl_registry.bind` with a null interface string
//! reaches an `unreachable!()` in wayland-backend 0.3.17's Rust server
//! backend and aborts the compositor. The reference compositor runs on the
//! libwayland-server backend (`use_system_lib`), which rejects the message
//! with a `wl_display.error`; this test holds it to that.

mod common;

use std::{
    io::{ErrorKind, Read, Write},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use accord_tests::waiting::eventually;
use common::{assert_fds_back, fd_census, signal, start_compositor, wait_exit, TempRuntimeDir};
use rustix::process::Signal;

/// `wl_display.error`'s `invalid_method` code.
const INVALID_METHOD: u32 = 1;

/// One message: object id, (size << 16 | opcode), then the argument words.
fn message(object: u32, opcode: u16, args: &[u32]) -> Vec<u8> {
    let size = 8 + 4 * args.len() as u32;
    [object, (size << 16) | u32::from(opcode)]
        .iter()
        .chain(args)
        .flat_map(|w| w.to_ne_bytes())
        .collect()
}

/// A decoded server event.
struct Event {
    object: u32,
    opcode: u16,
    args: Vec<u8>,
}

impl Event {
    fn word(&self, i: usize) -> u32 {
        u32::from_ne_bytes(self.args[4 * i..4 * i + 4].try_into().unwrap())
    }

    /// The string argument whose length word is word `i` (without its NUL).
    fn string(&self, i: usize) -> String {
        let len = self.word(i) as usize;
        let bytes = &self.args[4 * i + 4..4 * i + 4 + len];
        String::from_utf8_lossy(bytes.strip_suffix(&[0]).unwrap_or(bytes)).into_owned()
    }
}

/// Reads server events off a raw socket.
struct Wire {
    sock: UnixStream,
    buf: Vec<u8>,
}

impl Wire {
    fn connect(socket: &Path) -> Self {
        let sock = UnixStream::connect(socket).expect("connect to accord-compositor");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        Self {
            sock,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).expect("write request");
    }

    /// The next event, or `None` once the server has closed the connection.
    fn next(&mut self) -> Option<Event> {
        eventually(Duration::from_secs(10), "no event", || {
            if self.buf.len() >= 8 {
                let header = u32::from_ne_bytes(self.buf[4..8].try_into().unwrap());
                let size = (header >> 16) as usize;
                assert!(size >= 8, "event with size {size}");
                if self.buf.len() >= size {
                    let rest = self.buf.split_off(size);
                    let msg = std::mem::replace(&mut self.buf, rest);
                    return Some(Some(Event {
                        object: u32::from_ne_bytes(msg[0..4].try_into().unwrap()),
                        opcode: (header & 0xffff) as u16,
                        args: msg[8..].to_vec(),
                    }));
                }
            }
            let mut chunk = [0u8; 4096];
            match self.sock.read(&mut chunk) {
                Ok(0) => return Some(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(None),
                Err(e) => panic!("read: {e}"),
            }
            None
        })
    }
}

#[test]
fn null_interface_in_registry_bind_is_a_protocol_error_not_a_crash() {
    let dir = TempRuntimeDir::new("hostile-bind");
    let (mut child, _stdout, name) = start_compositor(&dir, &[]);
    let socket = dir.path().join(&name);
    let fds = fd_census(&child);

    // Exactly finding 8's 36 bytes: wl_display.get_registry(new_id 2), then
    // wl_registry.bind(name 1, interface null (length word 0), version 1,
    // new_id 3).
    let get_registry = message(1, 1, &[2]);
    let bind_null = message(2, 0, &[1, 0, 1, 3]);
    assert_eq!((get_registry.len(), bind_null.len()), (12, 24));
    let mut hostile = Wire::connect(&socket);
    hostile.send(&[get_registry, bind_null].concat());

    // Globals first (object 2), then the error on wl_display, then EOF.
    let mut error = None;
    while let Some(event) = hostile.next() {
        if (event.object, event.opcode) == (1, 0) {
            error = Some((event.word(0), event.word(1), event.string(2)));
        }
    }
    let (object, code, text) = error.expect("a wl_display.error before the socket closed");
    assert_eq!(object, 1, "error raised on wl_display");
    assert_eq!(code, INVALID_METHOD, "error code; message {text:?}");
    // libwayland: "invalid arguments for wl_registry@2.bind".
    assert!(
        text.contains("wl_registry@2.bind"),
        "error message names the object and request: {text:?}"
    );

    // The compositor lives on and serves a new client its globals.
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "accord-compositor exited after the hostile message"
    );
    let mut next = Wire::connect(&socket);
    next.send(&[message(1, 1, &[2]), message(1, 0, &[3])].concat()); // get_registry, sync
    let mut globals = Vec::new();
    loop {
        let event = next
            .next()
            .expect("connection open until the sync callback");
        match (event.object, event.opcode) {
            (2, 0) => globals.push(event.string(1)),
            (3, 0) => break, // wl_callback.done
            (1, 0) => panic!("unexpected wl_display.error: {:?}", event.string(2)),
            _ => {}
        }
    }
    for interface in ["wl_compositor", "wp_buffer_collection_manager_v1"] {
        assert!(
            globals.iter().any(|g| g == interface),
            "{interface} missing from {globals:?}"
        );
    }

    // Both clients gone: the compositor holds none of their fds.
    drop((hostile, next));
    assert_fds_back(&child, &fds, "after the hostile and the next client");

    signal(&child, Signal::TERM);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "compositor exited with {status}");
}
