//! Event handling every small test or demo client needs (xdg-shell pings
//! and configures, frame callbacks, buffer releases), written once as a
//! wayland-client delegate. A client state implements [`ClientEvents`] and
//! delegates with `delegate_client_plumbing!(State);`.

use wayland_client::{
    protocol::{
        wl_buffer::{self, WlBuffer},
        wl_callback::{self, WlCallback},
    },
    Connection, Dispatch, QueueHandle,
};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

/// What a client keeps of the common events.
pub trait ClientEvents {
    /// An `xdg_surface.configure` arrived (and was acked).
    fn configured(&mut self);
    /// `xdg_toplevel.configure`: size and states (`xdg_toplevel::State` values).
    fn toplevel_configure(&mut self, size: (i32, i32), states: Vec<u32>);
    /// A frame callback is done.
    fn frame_done(&mut self);
    /// The compositor released `buffer`.
    fn buffer_released(&mut self, _buffer: &WlBuffer) {}
}

/// The delegate type; see the module docs.
pub struct ClientPlumbing;

impl<S> Dispatch<xdg_wm_base::XdgWmBase, (), S> for ClientPlumbing
where
    S: Dispatch<xdg_wm_base::XdgWmBase, ()>,
{
    fn event(
        _: &mut S,
        wm: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<S>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm.pong(serial);
        }
    }
}

impl<S> Dispatch<xdg_surface::XdgSurface, (), S> for ClientPlumbing
where
    S: Dispatch<xdg_surface::XdgSurface, ()> + ClientEvents,
{
    fn event(
        state: &mut S,
        surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<S>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            surface.ack_configure(serial);
            state.configured();
        }
    }
}

impl<S> Dispatch<xdg_toplevel::XdgToplevel, (), S> for ClientPlumbing
where
    S: Dispatch<xdg_toplevel::XdgToplevel, ()> + ClientEvents,
{
    fn event(
        state: &mut S,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<S>,
    ) {
        if let xdg_toplevel::Event::Configure {
            width,
            height,
            states,
        } = event
        {
            let states = states
                .chunks_exact(4)
                .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
                .collect();
            state.toplevel_configure((width, height), states);
        }
    }
}

impl<S> Dispatch<WlCallback, (), S> for ClientPlumbing
where
    S: Dispatch<WlCallback, ()> + ClientEvents,
{
    fn event(
        state: &mut S,
        _: &WlCallback,
        event: wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<S>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            state.frame_done();
        }
    }
}

impl<S> Dispatch<WlBuffer, (), S> for ClientPlumbing
where
    S: Dispatch<WlBuffer, ()> + ClientEvents,
{
    fn event(
        state: &mut S,
        buffer: &WlBuffer,
        event: wl_buffer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<S>,
    ) {
        if let wl_buffer::Event::Release = event {
            state.buffer_released(buffer);
        }
    }
}

/// Implements the common `Dispatch`es for a [`ClientEvents`] state through
/// [`ClientPlumbing`].
#[macro_export]
macro_rules! delegate_client_plumbing {
    ($state:ty) => {
        ::wayland_client::delegate_dispatch!($state: [
            ::wayland_client::protocol::wl_registry::WlRegistry:
                ::wayland_client::globals::GlobalListContents
        ] => ::accord_client::IgnoreRegistry);
        ::wayland_client::delegate_dispatch!($state: [
            ::wayland_protocols::xdg::shell::client::xdg_wm_base::XdgWmBase: ()
        ] => $crate::client_plumbing::ClientPlumbing);
        ::wayland_client::delegate_dispatch!($state: [
            ::wayland_protocols::xdg::shell::client::xdg_surface::XdgSurface: ()
        ] => $crate::client_plumbing::ClientPlumbing);
        ::wayland_client::delegate_dispatch!($state: [
            ::wayland_protocols::xdg::shell::client::xdg_toplevel::XdgToplevel: ()
        ] => $crate::client_plumbing::ClientPlumbing);
        ::wayland_client::delegate_dispatch!($state: [
            ::wayland_client::protocol::wl_callback::WlCallback: ()
        ] => $crate::client_plumbing::ClientPlumbing);
        ::wayland_client::delegate_dispatch!($state: [
            ::wayland_client::protocol::wl_buffer::WlBuffer: ()
        ] => $crate::client_plumbing::ClientPlumbing);
    };
}
