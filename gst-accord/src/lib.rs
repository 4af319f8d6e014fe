//! `accordsink`: a GStreamer video sink whose buffer pool is an Accord
//! collection (the GStreamer plugin `accord`, `libgstaccord.so`).
//!
//! When upstream sends the allocation query, the sink negotiates a
//! collection with the compositor (which joins for the sink's window
//! surface) and answers with a pool of the collection's buffers:
//! upstream writes (or a device imports and fills) the very buffers the
//! compositor shows or scans out, and a frame is shown by attaching the
//! collection's `wl_buffer` for it, with no copy. Upstream's
//! `GstVideoAlignment` becomes the buffers' coded size and stride
//! alignment, its padding cropped off on screen (`alignment.rs`); a
//! generation the compositor starts (fullscreen on a display with planes)
//! is adopted by asking upstream to reconfigure. See the README's
//! GStreamer section for pipelines.
//!
//! Built on gstreamer-rs 0.23 at feature level `v1_22` (Debian 12 ships
//! GStreamer 1.22): `gst-launch-1.0` of that release loads it from
//! `GST_PLUGIN_PATH`.

use gst::glib;

mod alignment;
mod formats;
mod negotiator;
mod pool;
mod sink;
mod window;

pub use sink::AccordSink;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    sink::register(plugin)
}

gst::plugin_define!(
    accord,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    env!("CARGO_PKG_VERSION"),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    "https://example.invalid/accord",
    "2026-12-07"
);
