//! Round trips counted on the wire: a relay between clients and the
//! compositor's socket that forwards every byte and fd unchanged and logs
//! which side spoke, in the order the relay received it.
//!
//! A round trip, seen on the wire, is a client→compositor burst answered by
//! a compositor→client burst: the number of such turns is the number of
//! times a client could have had to wait for the compositor. Consecutive
//! chunks in the same direction form one burst, so a client that sends all
//! its requests at once and then only receives counts one turn however many
//! events come back. Unsolicited events that interleave with a client's
//! burst can only split it and add turns, so the count is an upper bound.

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

/// What one connection carried since the last [`Wire::reset`].
#[derive(Debug, Default)]
pub struct Wire {
    chunks: Vec<Dir>,
    /// Whole Wayland messages per direction (requests, events).
    messages: [usize; 2],
    /// Bytes of a partial message per direction, for message counting.
    partial: [Vec<u8>; 2],
}

impl Wire {
    pub fn reset(&mut self) {
        self.chunks.clear();
        self.messages = [0, 0];
    }

    /// Client bursts followed by a compositor burst.
    pub fn turns(&self) -> usize {
        let mut bursts: Vec<Dir> = Vec::new();
        for d in &self.chunks {
            if bursts.last() != Some(d) {
                bursts.push(*d);
            }
        }
        bursts
            .windows(2)
            .filter(|w| w[0] == Dir::ToServer && w[1] == Dir::ToClient)
            .count()
    }

    pub fn requests(&self) -> usize {
        self.messages[0]
    }

    pub fn events(&self) -> usize {
        self.messages[1]
    }

    fn record(&mut self, dir: Dir, bytes: &[u8]) {
        self.chunks.push(dir);
        let i = dir as usize;
        self.partial[i].extend_from_slice(bytes);
        // Header: object id (u32), then size << 16 | opcode (native endian).
        loop {
            let p = &self.partial[i];
            if p.len() < 8 {
                break;
            }
            let size = (u32::from_ne_bytes([p[4], p[5], p[6], p[7]]) >> 16) as usize;
            if size < 8 || p.len() < size {
                break;
            }
            self.partial[i].drain(..size);
            self.messages[i] += 1;
        }
    }
}

/// A listening relay socket in front of `target`.
pub struct Relay {
    pub path: PathBuf,
    /// One log per accepted connection, in accept order.
    pub connections: Arc<Mutex<Vec<Arc<Mutex<Wire>>>>>,
}

impl Relay {
    pub fn start(target: &Path, dir: &Path) -> Result<Relay, String> {
        let path = dir.join("accord-bench-relay");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).map_err(|e| format!("relay bind: {e}"))?;
        let connections: Arc<Mutex<Vec<Arc<Mutex<Wire>>>>> = Arc::default();
        let conns = connections.clone();
        let target = target.to_path_buf();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = UnixStream::connect(&target) else {
                    break;
                };
                let wire = Arc::new(Mutex::new(Wire::default()));
                conns
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(wire.clone());
                let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                    (Ok(c), Ok(s)) => (c, s),
                    _ => break,
                };
                let w2 = wire.clone();
                std::thread::spawn(move || pump(client, server, Dir::ToServer, wire));
                std::thread::spawn(move || pump(s2, c2, Dir::ToClient, w2));
            }
        });
        Ok(Relay { path, connections })
    }

    /// The log of the `i`-th accepted connection.
    pub fn wire(&self, i: usize) -> Option<Arc<Mutex<Wire>>> {
        self.connections.lock().ok()?.get(i).cloned()
    }

    pub fn reset_all(&self) {
        if let Ok(c) = self.connections.lock() {
            for w in c.iter() {
                w.lock().unwrap_or_else(|e| e.into_inner()).reset();
            }
        }
    }
}

/// Forward `from` → `to` with their fds, logging each chunk before it is
/// forwarded (so a reply is always logged after what caused it).
fn pump(from: UnixStream, to: UnixStream, dir: Dir, wire: Arc<Mutex<Wire>>) {
    let mut buf = vec![0u8; 1 << 16];
    // libwayland sends at most 28 fds per message.
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(64))];
    loop {
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let n = match rustix::net::recvmsg(
            from.as_fd(),
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(r) if r.bytes > 0 => r.bytes,
            _ => break,
        };
        let mut fds: Vec<OwnedFd> = Vec::new();
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(it) = msg {
                fds.extend(it);
            }
        }
        wire.lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(dir, &buf[..n]);
        if send_all(&to, &buf[..n], &fds).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

fn send_all(to: &UnixStream, mut bytes: &[u8], fds: &[OwnedFd]) -> std::io::Result<()> {
    let borrowed: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(64))];
    let mut first = true;
    while !bytes.is_empty() {
        let mut control = SendAncillaryBuffer::new(&mut space);
        if first && !borrowed.is_empty() {
            control.push(SendAncillaryMessage::ScmRights(&borrowed));
        }
        let n = rustix::net::sendmsg(
            to.as_fd(),
            &[std::io::IoSlice::new(bytes)],
            &mut control,
            SendFlags::NOSIGNAL,
        )?;
        first = false;
        bytes = &bytes[n..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(size: u16) -> Vec<u8> {
        let mut m = vec![0u8; size as usize];
        m[4..8].copy_from_slice(&((u32::from(size) << 16) | 1).to_ne_bytes());
        m
    }

    #[test]
    fn turns_and_messages() {
        let mut w = Wire::default();
        w.record(Dir::ToServer, &msg(12));
        w.record(Dir::ToServer, &msg(8));
        w.record(Dir::ToClient, &msg(16));
        assert_eq!(w.turns(), 1);
        // A message split over two chunks counts once.
        let m = msg(20);
        w.record(Dir::ToServer, &m[..10]);
        w.record(Dir::ToServer, &m[10..]);
        w.record(Dir::ToClient, &msg(8));
        w.record(Dir::ToClient, &msg(8));
        assert_eq!(w.turns(), 2);
        assert_eq!((w.requests(), w.events()), (3, 3));
        w.reset();
        assert_eq!((w.turns(), w.requests()), (0, 0));
    }
}
