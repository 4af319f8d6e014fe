//! The `accordsink` element: its GObject type and registration; the
//! behaviour is in `imp.rs`.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// A video sink whose buffer pool is an Accord collection; see the
    /// crate documentation.
    pub struct AccordSink(ObjectSubclass<imp::AccordSink>)
        @extends gst_video::VideoSink, gst_base::BaseSink, gst::Element, gst::Object;
}

/// Registers `accordsink` with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "accordsink",
        gst::Rank::MARGINAL,
        AccordSink::static_type(),
    )
}
