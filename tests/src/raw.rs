//! A client speaking the raw protocol (for misuse tests the library would
//! never send).

use std::collections::HashMap;

use accord_protocol::client::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1;
use accord_protocol::client::wp_buffer_collection_token_v1::{
    self as token, WpBufferCollectionTokenV1,
};
use accord_protocol::client::wp_buffer_collection_v1::{self as coll, WpBufferCollectionV1};
use wayland_client::backend::ObjectId;
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_buffer, wl_registry};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle};

/// Events seen, keyed by object.
#[derive(Debug, Default)]
pub struct Events {
    pub handles: HashMap<ObjectId, String>,
    pub token_failed: HashMap<ObjectId, (u32, String)>,
    pub allocated: HashMap<ObjectId, u32>,
    pub failed: HashMap<ObjectId, (u32, String)>,
    /// `generation` events (version 2), in order.
    pub generations: HashMap<ObjectId, Vec<u32>>,
    /// `allocated` events per object (one per generation received).
    pub allocated_events: HashMap<ObjectId, usize>,
}

pub struct RawClient {
    pub conn: Connection,
    pub queue: EventQueue<Events>,
    pub qh: QueueHandle<Events>,
    pub manager: WpBufferCollectionManagerV1,
    pub globals: wayland_client::globals::GlobalList,
    pub events: Events,
}

impl Drop for RawClient {
    fn drop(&mut self) {
        // wayland-client leaks the fds of events still queued when an
        // EventQueue is dropped: dispatch them so they close.
        let _ = self.queue.dispatch_pending(&mut self.events);
    }
}

impl RawClient {
    pub fn new(conn: Connection) -> RawClient {
        Self::with_version(conn, 2)
    }

    /// A client that binds the manager at most at `version` (1: a
    /// version-1 client, whose objects never see a version-2 event).
    pub fn with_version(conn: Connection, version: u32) -> RawClient {
        let (globals, queue) = registry_queue_init::<Events>(&conn).expect("registry");
        let qh = queue.handle();
        let manager = globals.bind(&qh, 1..=version, ()).expect("accord global");
        RawClient {
            conn,
            queue,
            qh,
            manager,
            globals,
            events: Events::default(),
        }
    }

    pub fn create(&self) -> WpBufferCollectionTokenV1 {
        self.manager.create_collection(&self.qh, ())
    }

    /// Roundtrip; `Err` carries the protocol error (code, message).
    pub fn roundtrip(&mut self) -> Result<(), (u32, String)> {
        match self.queue.roundtrip(&mut self.events) {
            Ok(_) => Ok(()),
            Err(e) => Err(self
                .conn
                .protocol_error()
                .map(|p| (p.code, p.message))
                .unwrap_or((u32::MAX, e.to_string()))),
        }
    }

    /// Roundtrip that must fail with a protocol error.
    pub fn expect_error(&mut self) -> (u32, String) {
        // Two roundtrips: the error may follow the first reply.
        for _ in 0..2 {
            if let Err(e) = self.roundtrip() {
                return e;
            }
        }
        panic!("expected a protocol error, the compositor accepted the request");
    }

    pub fn export(&mut self, t: &WpBufferCollectionTokenV1) -> String {
        t.export();
        self.roundtrip().expect("export");
        self.events
            .handles
            .get(&t.id())
            .cloned()
            .expect("handle event")
    }

    /// Bind and commit XRGB8888 LINEAR, at least 16x8.
    pub fn bind_commit(&mut self, t: &WpBufferCollectionTokenV1) -> WpBufferCollectionV1 {
        let c = t.bind(&self.qh, ());
        self.commit_xrgb(&c);
        c
    }

    /// Commit the constraints of [`bind_commit`](Self::bind_commit) on an
    /// already bound collection.
    pub fn commit_xrgb(&mut self, c: &WpBufferCollectionV1) {
        let mut pair = crate::XRGB8888.to_ne_bytes().to_vec();
        pair.extend_from_slice(&0u32.to_ne_bytes());
        pair.extend_from_slice(&accord_engine::MOD_LINEAR.to_ne_bytes());
        c.add_formats(pair);
        c.set_size_range(16, 8, 0, 0);
        c.commit();
    }
}

/// A `wl_surface` from the compositor's `wl_compositor`.
pub fn surface(c: &mut RawClient) -> wayland_client::protocol::wl_surface::WlSurface {
    let compositor: wayland_client::protocol::wl_compositor::WlCompositor =
        c.globals.bind(&c.qh, 1..=4, ()).expect("wl_compositor");
    compositor.create_surface(&c.qh, ())
}

impl Dispatch<wayland_client::protocol::wl_compositor::WlCompositor, ()> for Events {
    fn event(
        _: &mut Self,
        _: &wayland_client::protocol::wl_compositor::WlCompositor,
        _: wayland_client::protocol::wl_compositor::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}
impl Dispatch<wayland_client::protocol::wl_surface::WlSurface, ()> for Events {
    fn event(
        _: &mut Self,
        _: &wayland_client::protocol::wl_surface::WlSurface,
        _: wayland_client::protocol::wl_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

wayland_client::delegate_dispatch!(Events: [
    wl_registry::WlRegistry: GlobalListContents
] => accord_client::IgnoreRegistry);
wayland_client::delegate_noop!(Events: ignore WpBufferCollectionManagerV1);
wayland_client::delegate_noop!(Events: ignore accord_protocol::client::wp_buffer_collection_token_group_v1::WpBufferCollectionTokenGroupV1);
impl Dispatch<WpBufferCollectionTokenV1, ()> for Events {
    fn event(
        ev: &mut Self,
        t: &WpBufferCollectionTokenV1,
        e: token::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match e {
            token::Event::Handle { handle } => {
                ev.handles.insert(t.id(), handle);
            }
            token::Event::Failed { reason, message } => {
                ev.token_failed.insert(t.id(), (u32::from(reason), message));
            }
            _ => {}
        }
    }
}
impl Dispatch<WpBufferCollectionV1, ()> for Events {
    fn event(
        ev: &mut Self,
        c: &WpBufferCollectionV1,
        e: coll::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match e {
            coll::Event::Settings { buffer_count, .. } => {
                ev.allocated.insert(c.id(), buffer_count);
            }
            coll::Event::Failed { reason, message } => {
                ev.failed.insert(c.id(), (u32::from(reason), message));
            }
            coll::Event::Allocated => {
                *ev.allocated_events.entry(c.id()).or_default() += 1;
            }
            coll::Event::Generation { generation } => {
                ev.generations.entry(c.id()).or_default().push(generation);
            }
            _ => {}
        }
    }
}
// wl_buffer events (release) are not tracked on this queue.
wayland_client::delegate_noop!(Events: ignore wl_buffer::WlBuffer);
