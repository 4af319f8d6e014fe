//! Abrupt disconnects: killable connections (a clone of the socket to shut
//! down under the client) and messages cut in the middle.

use std::io::IoSlice;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

/// Send the first bytes of a request (a header announcing `size` bytes
/// from object `object`, opcode `opcode`, then fewer bytes than that),
/// optionally with an fd attached, and close: the compositor sees a
/// message cut in the middle. The caller flushes its connection first.
pub fn partial_message(socket: UnixStream, object: u32, opcode: u16, with_fd: bool) {
    let size: u32 = 32;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&object.to_ne_bytes());
    bytes.extend_from_slice(&((size << 16) | u32::from(opcode)).to_ne_bytes());
    bytes.extend_from_slice(&7u32.to_ne_bytes()); // 12 of 32 bytes
    let iov = [IoSlice::new(&bytes)];
    if with_fd {
        let fd = rustix::fs::memfd_create("accord-partial", rustix::fs::MemfdFlags::CLOEXEC);
        if let Ok(fd) = fd {
            let fds = [fd.as_fd()];
            let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut anc = SendAncillaryBuffer::new(&mut space);
            anc.push(SendAncillaryMessage::ScmRights(&fds));
            let _ = sendmsg(&socket, &iov, &mut anc, SendFlags::NOSIGNAL);
        }
    } else {
        let _ = sendmsg(
            &socket,
            &iov,
            &mut SendAncillaryBuffer::default(),
            SendFlags::NOSIGNAL,
        );
    }
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// A connection to the compositor at `socket` plus a clone of its socket:
/// `shutdown` on the clone (or [`partial_message`]) is an abrupt
/// disconnect (no destroy requests reach the server).
pub fn killable(socket: &std::path::Path) -> (wayland_client::Connection, UnixStream) {
    let stream = UnixStream::connect(socket).expect("connect to test compositor");
    let kill = stream.try_clone().expect("clone socket");
    let conn = wayland_client::Connection::from_socket(stream).expect("wayland connection");
    (conn, kill)
}
