//! The demo's consumer: imports the producer's token, commits its own
//! constraints (CPU read, rows aligned to 256 bytes), maps the same buffers
//! and verifies every frame the producer announces. When the producer
//! renegotiates (a new frame size), it follows: it takes the new generation
//! at its frame boundary and releases the old one. See `accord-demo`.

use std::{path::PathBuf, process::ExitCode};

use accord_client::{Accord, Constraints, Renegotiation, Usage, MOD_LINEAR};
use accord_examples::demo::{
    channel::{Channel, Message},
    pattern, program,
    results::Results,
    window::Error,
    ARGB8888, XRGB8888,
};
use clap::Parser;
use wayland_client::Connection;

const NAME: &str = "accord-demo-consumer";
/// The demo's consumer: connects to accord-demo-producer's Unix socket,
/// imports its buffer collection on the compositor ($WAYLAND_DISPLAY), and
/// verifies every frame.
///
/// Prints `accord-demo-consumer: result k=v ...` at the end.
#[derive(Parser, Debug)]
#[command(name = "accord-demo-consumer")]
struct Args {
    /// The producer's Unix socket.
    #[arg(long, value_name = "PATH")]
    channel: PathBuf,
    /// Keep the connection (and the buffers) until stdin closes, so the
    /// runner can see what the compositor still charges.
    #[arg(long)]
    hold: bool,
}

/// The consumer's own layout constraint (a DMA engine's, say).
const STRIDE_ALIGNMENT: u32 = 256;

fn main() -> ExitCode {
    program(NAME, |args: Args| {
        run(&args.channel, args.hold).map(|()| true)
    })
}

fn run(path: &std::path::Path, hold: bool) -> Result<(), Error> {
    let mut channel = Channel::connect(path)
        .map_err(|e| format!("cannot connect to the producer at {}: {e}", path.display()))?;
    let handle = match channel.recv()? {
        Message::Handle(h) => h,
        other => return Err(format!("expected the handle, got {other:?}").into()),
    };
    let conn = Connection::connect_to_env()
        .map_err(|e| format!("cannot connect to the compositor (WAYLAND_DISPLAY): {e}"))?;
    let accord = Accord::new(&conn)?;
    let token = accord.import(&handle);
    token.set_name("consumer");
    let collection = token.bind();
    collection.commit(
        &Constraints::new()
            .usage(Usage::CpuRead)
            .format(XRGB8888, MOD_LINEAR)
            .format(ARGB8888, MOD_LINEAR)
            .stride_alignment(STRIDE_ALIGNMENT)
            .buffers(1),
    );
    let mut allocation = collection.wait_allocated()?;
    let inodes = allocation
        .buffers
        .iter()
        .map(|b| b.inode())
        .collect::<Result<Vec<_>, _>>()?;
    let producer_inodes = match channel.recv()? {
        Message::Inodes(list) => list,
        other => return Err(format!("expected the inodes, got {other:?}").into()),
    };
    let mut inodes_equal = inodes == producer_inodes;
    let strides_aligned = allocation
        .buffers
        .iter()
        .flat_map(|b| &b.planes)
        .all(|p| p.stride % STRIDE_ALIGNMENT == 0);

    let (mut seen, mut verified) = (0u32, 0u32);
    let frames = loop {
        match channel.recv()? {
            Message::Frame { frame, index } => {
                seen += 1;
                let ok = check(&allocation, frame, index);
                if let Err(e) = &ok {
                    eprintln!("{NAME}: frame {frame} in buffer {index}: {e}");
                }
                verified += u32::from(ok.is_ok());
                channel.send(&Message::Verified {
                    frame,
                    index,
                    ok: ok.is_ok(),
                })?;
            }
            Message::Done { frames } => break frames,
            Message::Generation { generation } => {
                // Every frame before this one is verified: switch.
                let next = loop {
                    match collection.wait_renegotiation()? {
                        Renegotiation::Generation(a) if a.generation == generation => break a,
                        Renegotiation::Generation(_) => continue, // an older one
                        other => {
                            return Err(
                                format!("expected generation {generation}: {other:?}").into()
                            )
                        }
                    }
                };
                let theirs = match channel.recv()? {
                    Message::Inodes(list) => list,
                    other => return Err(format!("expected the inodes, got {other:?}").into()),
                };
                let ours = next
                    .buffers
                    .iter()
                    .map(|b| b.inode())
                    .collect::<Result<Vec<_>, _>>()?;
                inodes_equal &= ours == theirs;
                collection.release_generation(allocation.generation)?;
                allocation = next;
            }
            other => return Err(format!("unexpected message {other:?}").into()),
        }
    };

    let mut r = Results::new();
    r.set("format", allocation.format)
        .set("modifier", allocation.modifier)
        .set("width", allocation.width)
        .set("height", allocation.height)
        .set("stride", allocation.buffers[0].planes[0].stride)
        .set("buffers", allocation.buffers.len())
        .set("strides_aligned", strides_aligned)
        .set("frames_announced", frames)
        .set("frames_seen", seen)
        .set("frames_verified", verified)
        .set("inodes_equal", inodes_equal)
        .set("generation", allocation.generation);
    println!("{}", r.line(NAME));
    if hold {
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    }
    Ok(())
}

/// Buffer `index` holds frame `frame`: the decoded number and every pixel.
fn check(allocation: &accord_client::Allocation, frame: u32, index: u32) -> Result<(), Error> {
    let buffer = allocation
        .buffers
        .get(index as usize)
        .ok_or("buffer index out of range")?;
    let layout = pattern::Layout::of(buffer).ok_or("buffer without planes")?;
    let bytes = buffer.map()?;
    let decoded = pattern::decode(layout.width, |x, y| {
        let i = layout.offset + y as usize * layout.stride + x as usize * 4;
        let px = bytes.get(i..i + 4)?;
        Some([px[2], px[1], px[0]])
    });
    if decoded != Some(frame) {
        return Err(format!("the pixels spell frame {decoded:?}").into());
    }
    pattern::verify(frame, layout, &bytes)?;
    Ok(())
}
