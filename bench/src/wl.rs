//! Plain `wayland-client` pieces the benchmarks need besides the Accord
//! library: globals, a surface, `wl_shm`, and touching mapped pages.

use wayland_client::globals::{registry_queue_init, GlobalList, GlobalListContents};
use wayland_client::protocol::{
    wl_buffer, wl_compositor, wl_registry, wl_shm, wl_shm_pool, wl_surface,
};
use wayland_client::{delegate_noop, Connection, Dispatch, EventQueue, QueueHandle};

/// A Wayland connection over the socket at `path`.
pub fn connect(path: &std::path::Path) -> Result<Connection, String> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| format!("connect {}: {e}", path.display()))?;
    Connection::from_socket(s).map_err(|e| format!("wayland connection: {e}"))
}

/// Dispatch state of the benchmarks' own queues (events are ignored).
#[derive(Debug, Default)]
pub struct Wl;

wayland_client::delegate_dispatch!(Wl: [
    wl_registry::WlRegistry: GlobalListContents
] => accord_client::IgnoreRegistry);
delegate_noop!(Wl: ignore wl_compositor::WlCompositor);
delegate_noop!(Wl: ignore wl_surface::WlSurface);
delegate_noop!(Wl: ignore wl_shm::WlShm);
delegate_noop!(Wl: ignore wl_shm_pool::WlShmPool);
delegate_noop!(Wl: ignore wl_buffer::WlBuffer);

/// A queue with the registry's globals.
pub struct Globals {
    pub queue: EventQueue<Wl>,
    pub qh: QueueHandle<Wl>,
    pub list: GlobalList,
}

impl Globals {
    pub fn new(conn: &Connection) -> Result<Globals, String> {
        let (list, queue) =
            registry_queue_init::<Wl>(conn).map_err(|e| format!("registry: {e}"))?;
        let qh = queue.handle();
        Ok(Globals { queue, qh, list })
    }

    pub fn bind<I: wayland_client::Proxy + 'static>(&self, max: u32) -> Result<I, String>
    where
        Wl: Dispatch<I, ()>,
    {
        self.list
            .bind(&self.qh, 1..=max, ())
            .map_err(|e| format!("bind {}: {e}", I::interface().name))
    }
}

pub const PAGE: usize = 4096;

/// Write one byte in every page of `bytes` (the first touch faults the page
/// in), volatile so that it is not optimised away.
pub fn touch_pages(bytes: &mut [u8]) -> usize {
    let mut pages = 0;
    for off in (0..bytes.len()).step_by(PAGE) {
        // SAFETY: `off` is in bounds of the slice.
        unsafe { std::ptr::write_volatile(bytes.as_mut_ptr().add(off), 1) };
        pages += 1;
    }
    pages
}

/// Read one byte in every page of `bytes` (a reader's first touch).
/// Returns the number of pages and a checksum so the reads stay.
pub fn read_pages(bytes: &[u8]) -> (usize, u64) {
    let (mut pages, mut sum) = (0, 0u64);
    for off in (0..bytes.len()).step_by(PAGE) {
        // SAFETY: `off` is in bounds of the slice.
        sum += u64::from(unsafe { std::ptr::read_volatile(bytes.as_ptr().add(off)) });
        pages += 1;
    }
    (pages, sum)
}
