//! The demo's producer: creates a collection, shares it with the consumer
//! (exported handle over the channel) and with the compositor (a token
//! attached to its own toplevel), draws numbered frames into the shared
//! buffers and shows them. See `accord-demo` for the whole picture.

use std::{
    io::Read, os::unix::net::UnixListener, path::PathBuf, process::ExitCode, time::Duration,
};

use accord_client::{Accord, Constraints, MemoryKind, Usage, MOD_LINEAR};
use accord_examples::demo::{
    channel::{Channel, Message},
    pattern, program,
    results::Results,
    window::{Error, Window},
    ARGB8888, XRGB8888,
};
use wayland_client::Connection;

const NAME: &str = "accord-demo-producer";
const USAGE: &str = "\
usage: accord-demo-producer --channel PATH [--frames N] [--size WxH] [--hold]

Listens on the Unix socket PATH for accord-demo-consumer, then negotiates a
buffer collection with it and with the compositor ($WAYLAND_DISPLAY), draws
N numbered frames (default 120) of WxH pixels (default 500x300) and shows
them in a toplevel. Prints `accord-demo-producer: result k=v ...` at the end.
--hold keeps the window up until stdin closes (so a screenshot can be taken).";

struct Args {
    channel: PathBuf,
    frames: u32,
    size: (u32, u32),
    hold: bool,
}

/// `Ok(None)`: `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = std::env::args().skip(1);
    let (mut channel, mut frames, mut size, mut hold) = (None, 120, (500, 300), false);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--channel" => channel = Some(PathBuf::from(value("--channel")?)),
            "--frames" => {
                let v = value("--frames")?;
                frames = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or(format!("--frames {v:?}: expected 1..=1000000"))?;
            }
            "--size" => {
                let v = value("--size")?;
                size = v
                    .split_once('x')
                    .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                    .filter(|&(w, h): &(u32, u32)| {
                        (64..=4096).contains(&w) && (32..=4096).contains(&h)
                    })
                    .ok_or(format!("--size {v:?}: expected WxH, 64..=4096 x 32..=4096"))?;
            }
            "--hold" => hold = true,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(Args {
        channel: channel.ok_or("--channel PATH is required")?,
        frames,
        size,
        hold,
    }))
}

fn main() -> ExitCode {
    program(NAME, USAGE, parse_args, |args| run(&args).map(|()| true))
}

fn run(args: &Args) -> Result<(), Error> {
    let _ = std::fs::remove_file(&args.channel);
    let listener = UnixListener::bind(&args.channel)
        .map_err(|e| format!("cannot listen on {}: {e}", args.channel.display()))?;
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
    let (w, h) = args.size;
    collection.commit(
        &Constraints::new()
            .usage(Usage::CpuWrite | Usage::Render)
            .format(XRGB8888, MOD_LINEAR)
            .format(ARGB8888, MOD_LINEAR)
            .min_size(w, h)
            .max_size(w, h)
            .buffers(2),
    );
    let allocation = collection.wait_allocated()?;
    let count = allocation.buffers.len();
    let inodes = allocation
        .buffers
        .iter()
        .map(|b| b.inode())
        .collect::<Result<Vec<_>, _>>()?;
    channel.send(&Message::Inodes(inodes.clone()))?;

    let buffers = window.buffers(&collection, count as u32);
    // Frame last written into each buffer; 0 = none. The consumer acks
    // frames in order, so `acked` is the newest frame it is done with.
    let mut last_frame = vec![0u32; count];
    let mut acked = 0u32;
    let mut bad = 0u32;
    let mut recv_ack = |channel: &mut Channel, acked: &mut u32| -> Result<(), Error> {
        match channel.recv()? {
            Message::Verified { frame, ok, .. } if frame == *acked + 1 => {
                *acked = frame;
                bad += u32::from(!ok);
                Ok(())
            }
            other => Err(format!("unexpected message from the consumer: {other:?}").into()),
        }
    };
    let mut next = 0;
    for frame in 1..=args.frames {
        let index = window.free_buffer(next)?;
        next = (index + 1) % count;
        while acked < last_frame[index] {
            recv_ack(&mut channel, &mut acked)?;
        }
        let buffer = &allocation.buffers[index];
        let layout = pattern::Layout::of(buffer).ok_or("buffer without planes")?;
        pattern::draw(frame, layout, &mut buffer.map()?)
            .map_err(|e| format!("drawing frame {frame}: {e}"))?;
        last_frame[index] = frame;
        channel.send(&Message::Frame {
            frame,
            index: index as u32,
        })?;
        window.present(&buffers, index)?;
    }
    while acked < args.frames {
        recv_ack(&mut channel, &mut acked)?;
    }
    channel.send(&Message::Done {
        frames: args.frames,
    })?;

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
