//! A bare connection attempt to a compositor, without libwayland: connect
//! without blocking, send `wl_display.get_registry` + `wl_display.sync`,
//! and see whether `wl_callback.done` comes back. What a test or benchmark
//! needs to tell "served" from "refused" while the compositor is out of fds
//! (`accord-bench refuse`, `examples/tests/refcomp_fd_exhaustion.rs`);
//! wayland-client would block in `connect` or abort on a closed socket.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

/// What became of a connection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The compositor answered `wl_display.sync`.
    Answered,
    /// It closed the connection.
    Closed,
    /// No answer within the wait (queued, not accepted).
    Silent,
    /// `connect` failed at once (the listen queue is full).
    NotConnected,
}

/// `wl_display.get_registry(2)` then `wl_display.sync(3)`.
fn hello() -> Vec<u8> {
    [[1u32, (12 << 16) | 1, 2], [1, 12 << 16, 3]]
        .iter()
        .flatten()
        .flat_map(|w| w.to_ne_bytes())
        .collect()
}

/// Connects to `socket` without blocking (a full listen queue fails at
/// once), sends the hello and waits up to `wait` for `wl_callback@3.done`.
/// The stream is returned while it is open. An error is something else
/// than a compositor refusing (no socket, a malformed event).
pub fn open(socket: &Path, wait: Duration) -> Result<(Option<UnixStream>, Outcome), String> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(|e| format!("socket: {e}"))?;
    let addr = SocketAddrUnix::new(socket).map_err(|e| format!("socket address: {e}"))?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => {}
        Err(Errno::AGAIN) => return Ok((None, Outcome::NotConnected)),
        Err(e) => return Err(format!("connect {}: {e}", socket.display())),
    }
    let mut stream = UnixStream::from(fd);
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_millis(5)))
        .map_err(|e| e.to_string())?;
    if let Err(e) = stream.write_all(&hello()) {
        return match e.kind() {
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset => Ok((None, Outcome::Closed)),
            _ => Err(format!("write: {e}")),
        };
    }
    let deadline = Instant::now() + wait;
    let mut buf = Vec::new();
    loop {
        // Complete messages: is one of them wl_callback@3.done?
        let mut at = 0;
        while buf.len() >= at + 8 {
            let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
            let (object, header) = (word(at), word(at + 4));
            let size = (header >> 16) as usize;
            if size < 8 {
                return Err(format!("an event of {size} bytes"));
            }
            if buf.len() < at + size {
                break;
            }
            if (object, header & 0xffff) == (3, 0) {
                return Ok((Some(stream), Outcome::Answered));
            }
            at += size;
        }
        if Instant::now() >= deadline {
            return Ok((Some(stream), Outcome::Silent));
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => return Ok((None, Outcome::Closed)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok((None, Outcome::Closed)),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// CPU time (utime + stime) of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e} (did the process exit?)"))?;
    // Fields after the parenthesised command name; utime, stime are 14, 15.
    let rest = &stat[stat.rfind(')').ok_or("stat: no comm")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("stat field {}", i + 3))
    };
    Ok(field(11)? + field(12)?)
}
