//! A `wl_registry` delegate for queues set up with
//! `wayland_client::globals::registry_queue_init`: the global list is read
//! once at bind time, so later registry events have nothing to update.

use wayland_client::globals::GlobalListContents;
use wayland_client::protocol::wl_registry::{self, WlRegistry};
use wayland_client::{Connection, Dispatch, QueueHandle};

/// Ignores every `wl_registry` event of a state `S`. Any client state can
/// use it instead of writing its own empty impl:
///
/// ```
/// struct State;
/// wayland_client::delegate_dispatch!(State: [
///     wayland_client::protocol::wl_registry::WlRegistry:
///         wayland_client::globals::GlobalListContents
/// ] => accord_client::IgnoreRegistry);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IgnoreRegistry;

impl<S> Dispatch<WlRegistry, GlobalListContents, S> for IgnoreRegistry
where
    S: Dispatch<WlRegistry, GlobalListContents>,
{
    fn event(
        _: &mut S,
        _: &WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<S>,
    ) {
    }
}
