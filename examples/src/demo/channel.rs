//! The producer↔consumer channel: a Unix socket carrying one text line per
//! message. The producer listens, the consumer connects. Nothing on it is
//! trusted: every line is parsed and checked.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    os::unix::net::{UnixListener, UnixStream},
    path::Path,
    time::Duration,
};

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Producer → consumer: the exported token handle to import.
    Handle(String),
    /// Producer → consumer: `(st_dev, st_ino)` of each buffer, in order.
    Inodes(Vec<(u64, u64)>),
    /// Producer → consumer: frame `frame` is in buffer `index`.
    Frame { frame: u32, index: u32 },
    /// Consumer → producer: done with that buffer; `ok` = the content matched.
    Verified { frame: u32, index: u32, ok: bool },
    /// Producer → consumer: no more frames; `frames` were sent.
    Done { frames: u32 },
    /// Producer → consumer: the stream was renegotiated; frames from now
    /// on are in generation `generation` (its inodes follow).
    Generation { generation: u32 },
}

impl Message {
    fn to_line(&self) -> String {
        match self {
            Message::Handle(h) => format!("handle {h}"),
            Message::Inodes(list) => {
                let items: Vec<String> = list.iter().map(|(d, i)| format!("{d}:{i}")).collect();
                format!("inodes {}", items.join(","))
            }
            Message::Frame { frame, index } => format!("frame {frame} {index}"),
            Message::Verified { frame, index, ok } => {
                format!(
                    "verified {frame} {index} {}",
                    if *ok { "ok" } else { "bad" }
                )
            }
            Message::Done { frames } => format!("done {frames}"),
            Message::Generation { generation } => format!("generation {generation}"),
        }
    }

    fn parse(line: &str) -> Option<Message> {
        let mut words = line.split_whitespace();
        let kind = words.next()?;
        let mut num = || words.next()?.parse::<u32>().ok();
        let msg = match kind {
            "handle" => {
                let h = line.strip_prefix("handle ")?.trim();
                // Handles are hex strings; bound them like the compositor does.
                if h.is_empty() || h.len() > 256 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                Message::Handle(h.to_owned())
            }
            "inodes" => {
                let list = line.strip_prefix("inodes")?.trim();
                let mut out = Vec::new();
                for item in list.split(',').filter(|s| !s.is_empty()).take(1024) {
                    let (d, i) = item.split_once(':')?;
                    out.push((d.parse().ok()?, i.parse().ok()?));
                }
                Message::Inodes(out)
            }
            "frame" => Message::Frame {
                frame: num()?,
                index: num()?,
            },
            "verified" => {
                let (frame, index) = (num()?, num()?);
                let ok = match words.next()? {
                    "ok" => true,
                    "bad" => false,
                    _ => return None,
                };
                Message::Verified { frame, index, ok }
            }
            "done" => Message::Done { frames: num()? },
            "generation" => Message::Generation { generation: num()? },
            _ => return None,
        };
        Some(msg)
    }
}

/// One end of the channel.
pub struct Channel {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Channel {
    /// Producer side: listen at `path` and accept the consumer (within `timeout`).
    pub fn accept(listener: &UnixListener, timeout: Duration) -> io::Result<Channel> {
        listener.set_nonblocking(true)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false)?;
                    return Channel::new(stream);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if std::time::Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no consumer connected to the channel",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Consumer side: connect to the producer's socket at `path`.
    pub fn connect(path: &Path) -> io::Result<Channel> {
        Channel::new(UnixStream::connect(path)?)
    }

    fn new(stream: UnixStream) -> io::Result<Channel> {
        // A peer that stops answering must not hang the demo forever.
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Channel {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        let mut line = message.to_line();
        line.push('\n');
        self.writer.write_all(line.as_bytes())
    }

    /// The next message; an error on EOF, timeout or a line that is not one.
    pub fn recv(&mut self) -> io::Result<Message> {
        let mut line = String::new();
        // At most 64 KiB per line (1024 inodes fit easily).
        let n = (&mut self.reader).take(64 * 1024).read_line(&mut line)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the other demo process closed the channel",
            ));
        }
        Message::parse(line.trim_end()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected channel message {:?}", line.trim_end()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Message::Handle("00ff".repeat(16)),
            Message::Inodes(vec![(1, 2), (3, 4)]),
            Message::Inodes(vec![]),
            Message::Frame { frame: 7, index: 2 },
            Message::Verified {
                frame: 7,
                index: 2,
                ok: false,
            },
            Message::Done { frames: 9 },
        ] {
            assert_eq!(Message::parse(&m.to_line()), Some(m));
        }
    }

    #[test]
    fn bad_lines_are_rejected() {
        for line in [
            "",
            "handle ",
            "handle zz",
            "frame 1",
            "frame -1 0",
            "verified 1 2 maybe",
            "inodes 1:x",
            "nope",
        ] {
            assert_eq!(Message::parse(line), None, "{line:?} accepted");
        }
    }
}
