//! `accordsink-app`: a GStreamer application that drives `accordsink` the
//! way a decoder or a player would, for the tests that `gst-launch-1.0`
//! cannot express. It loads the plugin as any application does (from
//! `GST_PLUGIN_PATH`), never from this crate, and prints what it saw, one
//! `key: value` line each, for the tests to read.
//!
//! - `accordsink-app push [--size WxH] [--padding T,B,L,R] [--stride-mask M]
//!   [--frames N] [--dmabuf] [--fullscreen] [--sync]`: an upstream of its own (a
//!   source pad linked to the sink) that asks for `video/x-raw` (or
//!   `video/x-raw(memory:DMABuf)` with `--dmabuf`) BGRx, queries the caps
//!   and the allocation, configures the sink's pool with a
//!   `GstVideoAlignment` (padding and a stride mask, as a decoder does),
//!   and pushes N buffers from that pool. Without `--dmabuf` it fills each
//!   buffer's padding with red and the picture with four bars (white,
//!   yellow, cyan, green, left to right) through the video meta; with it,
//!   it never maps the buffers. `--sync`: shown at 30 frames per second
//!   (else as they come). Prints `caps:`, `accept-caps:`, `config:`, `meta:`,
//!   `memories:`, `warning:`/`error:` (bus messages) and `stats:`.
//! - `accordsink-app toggle [--size WxH] [--toggles K] [--frames N]`:
//!   `videotestsrc ! accordsink` windowed, then K times fullscreen ↔
//!   windowed while it plays, N frames shown between toggles; prints one
//!   `step:` line per step with the sink's `generation` once it moved (or
//!   after 60 s), then `stats:`.
//!
//! Exits 1 when the pipeline failed (an error message, a refused caps
//! event, a flow error).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst_video::prelude::*;

/// Bars the picture is filled with, BGRx: white, yellow, cyan, green.
const BARS: [[u8; 4]; 4] = [
    [255, 255, 255, 255],
    [0, 255, 255, 255],
    [255, 255, 0, 255],
    [0, 255, 0, 255],
];
/// The padding's colour, BGRx red: it must never be seen.
const PADDING: [u8; 4] = [0, 0, 255, 255];

struct Args {
    mode: String,
    size: (u32, u32),
    padding: [u32; 4],
    stride_mask: u32,
    frames: u32,
    toggles: u32,
    dmabuf: bool,
    fullscreen: bool,
    sync: bool,
}

fn parse() -> Result<Args, String> {
    let mut argv = std::env::args().skip(1);
    let mode = argv
        .next()
        .ok_or("usage: accordsink-app push|toggle [options]")?;
    let mut a = Args {
        mode,
        size: (320, 240),
        padding: [0; 4],
        stride_mask: 0,
        frames: 30,
        toggles: 2,
        dmabuf: false,
        fullscreen: false,
        sync: false,
    };
    let num = |v: Option<String>, what: &str| -> Result<u32, String> {
        let v = v.ok_or(format!("{what} needs a value"))?;
        let parsed = match v.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => v.parse(),
        };
        parsed.map_err(|e| format!("{what} {v}: {e}"))
    };
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--size" => {
                let v = argv.next().ok_or("--size needs WxH")?;
                let (w, h) = v.split_once('x').ok_or("--size needs WxH")?;
                a.size = (
                    num(Some(w.into()), "width")?,
                    num(Some(h.into()), "height")?,
                );
            }
            "--padding" => {
                let v = argv.next().ok_or("--padding needs T,B,L,R")?;
                let parts: Vec<_> = v.split(',').collect();
                if parts.len() != 4 {
                    return Err("--padding needs T,B,L,R".into());
                }
                for (slot, p) in a.padding.iter_mut().zip(parts) {
                    *slot = num(Some(p.into()), "padding")?;
                }
            }
            "--stride-mask" => a.stride_mask = num(argv.next(), "--stride-mask")?,
            "--frames" => a.frames = num(argv.next(), "--frames")?,
            "--toggles" => a.toggles = num(argv.next(), "--toggles")?,
            "--dmabuf" => a.dmabuf = true,
            "--fullscreen" => a.fullscreen = true,
            "--sync" => a.sync = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let result = parse().and_then(|args| {
        gst::init().map_err(|e| e.to_string())?;
        match args.mode.as_str() {
            "push" => push(&args),
            "toggle" => toggle(&args),
            other => Err(format!("unknown mode {other}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `accordsink`; `sync`: shown at the frames' times (30 per second)
/// rather than as they come.
fn make_sink(sync: bool) -> Result<gst::Element, String> {
    gst::ElementFactory::make("accordsink")
        .property("sync", sync)
        .build()
        .map_err(|e| format!("accordsink (is GST_PLUGIN_PATH set?): {e}"))
}

/// Prints the bus's warnings and errors; whether an error came, and
/// whether EOS did.
fn drain_bus(bus: &gst::Bus, until_eos: Duration) -> (bool, bool) {
    let deadline = Instant::now() + until_eos;
    let (mut failed, mut eos) = (false, false);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
            break;
        };
        match msg.view() {
            gst::MessageView::Warning(w) => {
                println!("warning: {} ({})", w.error(), one_line(w.debug()))
            }
            gst::MessageView::Error(e) => {
                failed = true;
                println!("error: {} ({})", e.error(), one_line(e.debug()));
            }
            gst::MessageView::Eos(_) => {
                eos = true;
                break;
            }
            _ => {}
        }
    }
    (failed, eos)
}

/// A message's debug text on one line (it has the element's path on a
/// line of its own).
fn one_line(debug: Option<glib::GString>) -> String {
    debug.map(|d| d.replace('\n', " ")).unwrap_or_default()
}

fn print_stats(sink: &gst::Element) {
    println!(
        "stats: frames-shown={} copies={} generations={} generation={} released-generations={}",
        sink.property::<u64>("frames-shown"),
        sink.property::<u64>("copies"),
        sink.property::<u64>("generations"),
        sink.property::<u64>("generation"),
        sink.property::<u64>("released-generations"),
    );
}

fn push(a: &Args) -> Result<(), String> {
    let pipeline = gst::Pipeline::new();
    let sink = make_sink(a.sync)?;
    sink.set_property("fullscreen", a.fullscreen);
    pipeline.add(&sink).map_err(|e| e.to_string())?;
    let src = gst::Pad::builder(gst::PadDirection::Src)
        .name("src")
        .build();
    let sinkpad = sink.static_pad("sink").ok_or("no sink pad")?;
    src.link(&sinkpad).map_err(|e| format!("link: {e:?}"))?;
    src.set_active(true).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("PLAYING: {e}"))?;

    let mut caps = gst_video::VideoCapsBuilder::new()
        .format(gst_video::VideoFormat::Bgrx)
        .width(a.size.0 as i32)
        .height(a.size.1 as i32)
        .framerate(gst::Fraction::new(30, 1))
        .build();
    if a.dmabuf {
        caps.get_mut()
            .ok_or("caps")?
            .set_features_simple(Some(gst::CapsFeatures::new([
                gst_allocators::CAPS_FEATURE_MEMORY_DMABUF,
            ])));
    }
    // Negotiation as an element does it: the peer's caps, then
    // accept-caps for the ones it picked.
    let offered = src.peer_query_caps(None);
    println!("caps: {offered}");
    let accepted = src.peer_query_accept_caps(&caps);
    println!("accept-caps: {accepted}");
    if !accepted {
        let _ = pipeline.set_state(gst::State::Null);
        return Err(format!("not negotiated: the sink does not accept {caps}"));
    }
    src.push_event(gst::event::StreamStart::new("accordsink-app"));
    src.push_event(gst::event::Caps::new(&caps));
    src.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
        gst::ClockTime,
    >::new()));

    let mut query = gst::query::Allocation::new(Some(&caps), true);
    if !src.peer_query(&mut query) {
        drain_bus(&bus, Duration::from_millis(200));
        let _ = pipeline.set_state(gst::State::Null);
        return Err("the allocation query failed".into());
    }
    let (pool, size, min, _) = query
        .allocation_pools()
        .into_iter()
        .next()
        .ok_or("no pool proposed")?;
    let pool = pool.ok_or("no pool proposed")?;
    let mut config = pool.config();
    config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META);
    let [top, bottom, left, right] = a.padding;
    let align = gst_video::VideoAlignment::new(top, bottom, left, right, &[a.stride_mask; 4]);
    config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT);
    config.set_video_alignment(&align);
    config.set_params(Some(&caps), size, min, 0);
    match pool.set_config(config) {
        Ok(()) => println!("config: accepted"),
        Err(_) => {
            // GstBufferPool's convention: the pool corrected the config to
            // what it can do; take it as it is.
            let corrected = pool.config();
            let got = corrected.video_alignment();
            println!(
                "config: refused; the pool has padding {:?}",
                got.map(|g| (
                    g.padding_top(),
                    g.padding_bottom(),
                    g.padding_left(),
                    g.padding_right()
                ))
            );
            pool.set_config(corrected)
                .map_err(|e| format!("the pool's own config: {e}"))?;
        }
    }
    pool.set_active(true).map_err(|e| e.to_string())?;
    let info = gst_video::VideoInfo::from_caps(&caps).map_err(|e| e.to_string())?;

    for i in 0..a.frames {
        let mut buffer = pool
            .acquire_buffer(None)
            .map_err(|e| format!("acquire: {e:?}"))?;
        {
            let b = buffer.get_mut().ok_or("buffer not writable")?;
            if i == 0 {
                let meta = b.meta::<gst_video::VideoMeta>().ok_or("no video meta")?;
                println!(
                    "meta: {}x{} offsets={:?} strides={:?}",
                    meta.width(),
                    meta.height(),
                    meta.offset(),
                    meta.stride()
                );
                println!("memories: {} size={}", b.n_memory(), b.size());
            }
            if !a.dmabuf {
                paint(b, &info)?;
            }
            let pts = gst::ClockTime::from_mseconds(u64::from(i) * 33);
            b.set_pts(pts);
            b.set_duration(gst::ClockTime::from_mseconds(33));
        }
        src.push(buffer)
            .map_err(|e| format!("push frame {i}: {e:?}"))?;
    }
    src.push_event(gst::event::Eos::new());
    let (failed, eos) = drain_bus(&bus, Duration::from_secs(30));
    print_stats(&sink);
    let _ = pipeline.set_state(gst::State::Null);
    let _ = pool.set_active(false);
    if failed || !eos {
        return Err(format!("pipeline failed (eos {eos})"));
    }
    Ok(())
}

/// Red over the whole memory (the padding keeps it), then the bars over
/// the picture, through the video meta's offsets and strides.
fn paint(b: &mut gst::BufferRef, info: &gst_video::VideoInfo) -> Result<(), String> {
    {
        let mut map = b.map_writable().map_err(|e| e.to_string())?;
        for px in map.as_mut_slice().chunks_exact_mut(4) {
            px.copy_from_slice(&PADDING);
        }
    }
    let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, info)
        .map_err(|e| format!("map frame: {e}"))?;
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data_mut(0).map_err(|e| e.to_string())?;
    for y in 0..h {
        let row = &mut data[y * stride..y * stride + w * 4];
        for (x, px) in row.chunks_exact_mut(4).enumerate() {
            px.copy_from_slice(&BARS[x * BARS.len() / w]);
        }
    }
    Ok(())
}

fn toggle(a: &Args) -> Result<(), String> {
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("videotestsrc")
        .property_from_str("pattern", "smpte")
        .build()
        .map_err(|e| e.to_string())?;
    let filter = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst_video::VideoCapsBuilder::new()
                .format(gst_video::VideoFormat::Bgrx)
                .width(a.size.0 as i32)
                .height(a.size.1 as i32)
                .framerate(gst::Fraction::new(30, 1))
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())?;
    let sink = make_sink(a.sync)?;
    pipeline
        .add_many([&src, &filter, &sink])
        .map_err(|e| e.to_string())?;
    gst::Element::link_many([&src, &filter, &sink]).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("PLAYING: {e}"))?;
    let frames = |sink: &gst::Element| sink.property::<u64>("frames-shown");
    let generation = |sink: &gst::Element| sink.property::<u64>("generation");
    let mut fullscreen = false;
    let mut failed = false;
    for step in 0..=a.toggles {
        let since = generation(&sink);
        let target = frames(&sink) + u64::from(a.frames);
        let deadline = Instant::now() + Duration::from_secs(60);
        // N frames, and (after a toggle) the sink on another generation.
        while Instant::now() < deadline
            && (frames(&sink) < target || (step > 0 && generation(&sink) == since))
        {
            if let Some(msg) = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(50),
                &[gst::MessageType::Error],
            ) {
                if let gst::MessageView::Error(e) = msg.view() {
                    println!("error: {}", e.error());
                }
                failed = true;
                break;
            }
        }
        println!(
            "step: {step} fullscreen={fullscreen} generation={} frames-shown={}",
            generation(&sink),
            frames(&sink)
        );
        if failed {
            break;
        }
        if step < a.toggles {
            fullscreen = !fullscreen;
            sink.set_property("fullscreen", fullscreen);
        }
    }
    pipeline.send_event(gst::event::Eos::new());
    let (err, _) = drain_bus(&bus, Duration::from_secs(30));
    print_stats(&sink);
    let _ = pipeline.set_state(gst::State::Null);
    if failed || err {
        return Err("pipeline failed".into());
    }
    Ok(())
}
