//! The demo's producer: creates a collection, shares it with the consumer
//! (exported handle over the channel) and with the compositor (a token
//! attached to its own toplevel), draws numbered frames into the shared
//! buffers and shows them. With `--late-channel`, a late viewer joins
//! halfway (`attach_token`, protocol version 2): it gets the same buffers
//! and verifies the frames from then on. With `--resize-to`, the stream
//! changes resolution a quarter of the way through (`recommit`, protocol
//! version 2): every participant gets the new generation of buffers, the
//! consumer follows at its frame boundary, and the old generation is
//! released. See `accord-demo` for the whole picture.

use std::{
    io::Read, os::unix::net::UnixListener, path::PathBuf, process::ExitCode, time::Duration,
};

use accord_client::{
    Accord, Allocation, Constraints, MemoryKind, Renegotiation, Usage, MOD_LINEAR,
};
use accord_examples::cli::{parse_window_size, Size};
use accord_examples::demo::{
    channel::{Channel, Message},
    pattern, program,
    results::Results,
    window::{Error, Window},
    ARGB8888, XRGB8888,
};
use clap::Parser;
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::Connection;

const NAME: &str = "accord-demo-producer";
/// The demo's producer: listens on a Unix socket for accord-demo-consumer,
/// then negotiates a buffer collection with it and with the compositor
/// ($WAYLAND_DISPLAY), draws numbered frames and shows them in a toplevel.
///
/// Prints `accord-demo-producer: result k=v ...` at the end.
#[derive(Parser, Debug)]
#[command(name = "accord-demo-producer")]
struct Args {
    /// The Unix socket to listen on for the consumer.
    #[arg(long, value_name = "PATH")]
    channel: PathBuf,
    /// Frames to draw.
    #[arg(long, value_name = "N", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    frames: u32,
    /// Frame size in pixels (64..=4096 x 32..=4096).
    #[arg(long, value_name = "WxH", value_parser = parse_window_size,
          default_value = "500x300")]
    size: Size,
    /// Keep the window up until stdin closes (so a screenshot can be taken).
    #[arg(long)]
    hold: bool,
    /// Also listen here for a late viewer (another accord-demo-consumer),
    /// which joins the allocated collection halfway through the frames.
    #[arg(long, value_name = "PATH")]
    late_channel: Option<PathBuf>,
    /// Renegotiate to this frame size (64..=4096 x 32..=4096) before frame
    /// frames/4 + 1: the consumers follow the new generation.
    #[arg(long, value_name = "WxH", value_parser = parse_window_size)]
    resize_to: Option<Size>,
}

/// The producer's constraints for frames of `w`×`h`.
fn constraints(w: u32, h: u32) -> Constraints {
    Constraints::new()
        .usage(Usage::CpuWrite | Usage::Render)
        .format(XRGB8888, MOD_LINEAR)
        .format(ARGB8888, MOD_LINEAR)
        .min_size(w, h)
        .max_size(w, h)
        .buffers(2)
}

fn inodes_of(a: &Allocation) -> Result<Vec<(u64, u64)>, Error> {
    Ok(a.buffers
        .iter()
        .map(|b| b.inode())
        .collect::<Result<Vec<_>, _>>()?)
}

/// A consumer the frames go to, and the newest frame it has verified.
struct Peer {
    channel: Channel,
    acked: u32,
    /// Frames before this one were never sent to it.
    first: u32,
    bad: u32,
}

impl Peer {
    /// Wait for the next frame's verdict, in order.
    fn recv_ack(&mut self) -> Result<(), Error> {
        match self.channel.recv()? {
            Message::Verified { frame, ok, .. } if frame == self.acked + 1 => {
                self.acked = frame;
                self.bad += u32::from(!ok);
                Ok(())
            }
            other => Err(format!("unexpected message from a consumer: {other:?}").into()),
        }
    }

    /// Wait until it is done with `frame` (if it ever saw it).
    fn wait_for(&mut self, frame: u32) -> Result<(), Error> {
        while frame >= self.first && self.acked < frame {
            self.recv_ack()?;
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    program(NAME, |args: Args| run(&args).map(|()| true))
}

fn run(args: &Args) -> Result<(), Error> {
    let _ = std::fs::remove_file(&args.channel);
    let listener = UnixListener::bind(&args.channel)
        .map_err(|e| format!("cannot listen on {}: {e}", args.channel.display()))?;
    let late_listener = match &args.late_channel {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            Some(
                UnixListener::bind(path)
                    .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    println!("{NAME}: channel listening on {}", args.channel.display());

    let conn = Connection::connect_to_env()
        .map_err(|e| format!("cannot connect to the compositor (WAYLAND_DISPLAY): {e}"))?;
    let mut window = Window::open(&conn, "accord-demo-producer")?;
    let accord = Accord::new(&conn)?;

    // Three participants: this process, the consumer (exported handle) and
    // the compositor (a token attached to our surface).
    let root = accord.create_collection();
    root.set_name("producer");
    root.duplicate().attach_to_surface(&window.surface);
    let handle = root.duplicate().export()?;
    let mut channel = Channel::accept(&listener, Duration::from_secs(30))?;
    channel.send(&Message::Handle(handle))?;
    let collection = root.bind();
    let (w, h) = (args.size.width, args.size.height);
    collection.commit(&constraints(w, h));
    let mut allocation = collection.wait_allocated()?;
    let mut count = allocation.buffers.len();
    let mut inodes = inodes_of(&allocation)?;
    channel.send(&Message::Inodes(inodes.clone()))?;

    let mut buffers = window.buffers(&collection, count as u32);
    // The older generation's wl_buffers, destroyed once a newer frame shows.
    let mut old_buffers: Vec<WlBuffer> = Vec::new();
    let resize_at = args.resize_to.map(|_| args.frames / 4 + 1);
    // Frame last written into each buffer; 0 = none. Consumers ack frames
    // in order, so a peer's `acked` is the newest frame it is done with.
    let mut last_frame = vec![0u32; count];
    let mut peers = vec![Peer {
        channel,
        acked: 0,
        first: 1,
        bad: 0,
    }];
    let late_at = args.frames / 2 + 1;
    let mut next = 0;
    for frame in 1..=args.frames {
        if let (Some(size), true) = (args.resize_to, Some(frame) == resize_at) {
            // Every frame of this generation verified, then renegotiate.
            for peer in &mut peers {
                peer.wait_for(frame - 1)?;
            }
            collection.recommit(&constraints(size.width, size.height))?;
            let renewed = match collection.wait_renegotiation()? {
                Renegotiation::Generation(a) => a,
                Renegotiation::Kept { generation } => {
                    return Err(format!("the new size kept generation {generation}").into())
                }
                Renegotiation::Failed { failure, .. } => {
                    return Err(format!("renegotiation failed: {failure}").into())
                }
            };
            inodes = inodes_of(&renewed)?;
            for peer in &mut peers {
                peer.channel.send(&Message::Generation {
                    generation: renewed.generation,
                })?;
                peer.channel.send(&Message::Inodes(inodes.clone()))?;
            }
            println!(
                "{NAME}: generation {} at frame {frame}: {}x{}",
                renewed.generation, renewed.width, renewed.height
            );
            let old = std::mem::replace(&mut allocation, renewed);
            collection.release_generation(old.generation)?;
            drop(old);
            count = allocation.buffers.len();
            old_buffers = std::mem::replace(
                &mut buffers,
                window.generation_buffers(&collection, allocation.generation, count as u32),
            );
            last_frame = vec![0u32; count];
            next = 0;
        }
        if frame == late_at {
            if let Some(listener) = &late_listener {
                // The late viewer joins the allocated collection: same
                // buffers, nothing allocated.
                let handle = collection.attach_token()?.export()?;
                let mut late = Channel::accept(listener, Duration::from_secs(30))?;
                late.send(&Message::Handle(handle))?;
                late.send(&Message::Inodes(inodes.clone()))?;
                println!("{NAME}: late viewer joined at frame {frame}");
                peers.push(Peer {
                    channel: late,
                    acked: frame - 1,
                    first: frame,
                    bad: 0,
                });
            }
        }
        let index = window.free_buffer(next)?;
        next = (index + 1) % count;
        for peer in &mut peers {
            peer.wait_for(last_frame[index])?;
        }
        let buffer = &allocation.buffers[index];
        let layout = pattern::Layout::of(buffer).ok_or("buffer without planes")?;
        pattern::draw(frame, layout, &mut buffer.map()?)
            .map_err(|e| format!("drawing frame {frame}: {e}"))?;
        last_frame[index] = frame;
        for peer in &mut peers {
            peer.channel.send(&Message::Frame {
                frame,
                index: index as u32,
            })?;
        }
        window.present(&buffers, index)?;
        // The compositor shows a newer frame: the old generation's
        // wl_buffers can go.
        for b in old_buffers.drain(..) {
            b.destroy();
        }
    }
    for peer in &mut peers {
        peer.wait_for(args.frames)?;
        peer.channel.send(&Message::Done {
            frames: args.frames,
        })?;
    }
    let bad: u32 = peers.iter().map(|p| p.bad).sum();

    let plane0 = &allocation.buffers[0].planes[0];
    let mut r = Results::new();
    r.set("format", allocation.format)
        .set("modifier", allocation.modifier)
        .set("width", allocation.width)
        .set("height", allocation.height)
        .set("stride", plane0.stride)
        .set("buffers", count)
        .set(
            "memory",
            match allocation.memory {
                MemoryKind::DmaBuf => "dmabuf",
                MemoryKind::Memfd => "memfd",
            },
        )
        .set("frames_produced", args.frames)
        .set("generation", allocation.generation)
        .set("resized_at", resize_at.unwrap_or(0))
        .set("frames_rejected_by_consumer", bad)
        .set(
            "last_buffer",
            last_frame
                .iter()
                .position(|&f| f == args.frames)
                .unwrap_or(0),
        )
        .set(
            "inodes",
            inodes
                .iter()
                .map(|(d, i)| format!("{d}:{i}"))
                .collect::<Vec<_>>()
                .join(","),
        );
    println!("{}", r.line(NAME));
    if args.hold {
        // The runner closes our stdin once it has its screenshot.
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    }
    Ok(())
}
