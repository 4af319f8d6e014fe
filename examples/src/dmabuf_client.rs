//! A real Wayland client that shows dma-bufs: it reads linux-dmabuf's
//! default feedback (v4), picks XRGB8888 from the scanout tranche when there
//! is one, allocates dumb buffers on the KMS card, exports them with PRIME,
//! maps them, sends them through `zwp_linux_dmabuf_v1` and shows them in a
//! (fullscreen) xdg toplevel, one frame callback at a time.
//!
//! Buffers come either from an Accord collection negotiated with the
//! compositor (`allocate_collection`) or from the client's own dumb
//! buffers (`allocate`, the linux-dmabuf baseline); showing them is the same.

use std::{
    ffi::c_void,
    os::{
        fd::{AsFd, BorrowedFd, OwnedFd},
        unix::net::UnixStream,
    },
    path::Path,
    rc::Rc,
    time::{Duration, Instant},
};

use accord_smithay::kms::Card;
use smithay::reexports::drm::{
    buffer::{Buffer as _, DrmFourcc},
    control::{dumbbuffer::DumbBuffer, Device as _},
    CLOEXEC, RDWR,
};
use wayland_client::{
    delegate_noop,
    globals::{registry_queue_init, GlobalList},
    protocol::{
        wl_buffer::WlBuffer, wl_compositor::WlCompositor, wl_shm, wl_shm_pool::WlShmPool,
        wl_surface::WlSurface,
    },
    Connection, Dispatch, EventQueue, QueueHandle, WEnum,
};
use wayland_protocols::{
    wp::linux_dmabuf::zv1::client::{
        zwp_linux_buffer_params_v1::{self as params, ZwpLinuxBufferParamsV1},
        zwp_linux_dmabuf_feedback_v1::{self as feedback, TrancheFlags, ZwpLinuxDmabufFeedbackV1},
        zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1,
    },
    wp::presentation_time::client::{
        wp_presentation::WpPresentation, wp_presentation_feedback::WpPresentationFeedback,
    },
    wp::viewporter::client::{wp_viewport::WpViewport, wp_viewporter::WpViewporter},
    xdg::shell::client::{xdg_toplevel, xdg_wm_base},
};

use crate::{
    client_plumbing::ClientEvents,
    feedback_log::{FeedbackDelegate, FeedbackLog, PresentationEvents},
};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub use accord_client::{DRM_FORMAT_XRGB8888 as XRGB8888, MOD_LINEAR};

/// One tranche of the default feedback.
#[derive(Debug, Clone, Default)]
pub struct Tranche {
    pub target_device: u64,
    pub scanout: bool,
    /// (format, modifier) pairs, in the compositor's order.
    pub formats: Vec<(u32, u64)>,
}

/// The default feedback as received.
#[derive(Debug, Clone, Default)]
pub struct Feedback {
    pub main_device: u64,
    pub tranches: Vec<Tranche>,
}

/// What the client chose from the feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub format: u32,
    pub modifier: u64,
    /// Taken from a tranche flagged `scanout`.
    pub scanout: bool,
    pub device: u64,
}

impl Feedback {
    /// XRGB8888 with LINEAR (dumb buffers are linear): from the first
    /// scanout tranche that lists it, else from any tranche.
    pub fn choose_xrgb8888_linear(&self) -> Option<Choice> {
        let pick = |t: &Tranche| {
            t.formats
                .contains(&(XRGB8888, MOD_LINEAR))
                .then_some(Choice {
                    format: XRGB8888,
                    modifier: MOD_LINEAR,
                    scanout: t.scanout,
                    device: t.target_device,
                })
        };
        self.tranches
            .iter()
            .filter(|t| t.scanout)
            .find_map(pick)
            .or_else(|| self.tranches.iter().find_map(pick))
    }
}

/// A mapped dumb buffer shared with the compositor as a dma-buf.
pub struct Buffer {
    pub wl_buffer: WlBuffer,
    pub dmabuf: OwnedFd,
    pub stride: u32,
    ptr: *mut u8,
    len: usize,
    /// The GEM handle stays open while the buffer lives: the kernel keeps
    /// the object's dma-buf (and so its identity) only while a handle
    /// exists; a later export would otherwise make a new dma-buf file.
    gem: Option<(Rc<Card>, DumbBuffer)>,
}

impl Buffer {
    /// The buffer's dma-buf inode: the same file wherever it is imported.
    pub fn inode(&self) -> std::io::Result<u64> {
        Ok(rustix::fs::fstat(&self.dmabuf)?.st_ino)
    }

    /// The mapped bytes, to write a frame into (a CPU copy).
    pub fn pixels_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `fill`: `ptr` maps `len` writable bytes for the
        // buffer's life, one slice at a time (`&mut self`).
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Fills the rectangle with an XRGB8888 colour (`0x00RRGGBB`), clipped.
    pub fn fill(&mut self, (x, y, w, h): (u32, u32, u32, u32), width: u32, xrgb: u32) {
        let bytes = xrgb.to_le_bytes();
        // SAFETY: `ptr` maps `len` writable bytes for the buffer's life; this
        // is the only slice over it at a time (`&mut self`).
        let mem = unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) };
        let rows = (self.len / self.stride as usize) as u32;
        for row in y..(y + h).min(rows) {
            let start = row as usize * self.stride as usize;
            for col in x..(x + w).min(width) {
                let at = start + col as usize * 4;
                mem[at..at + 4].copy_from_slice(&bytes);
            }
        }
    }
}

/// A new read/write shared mapping of `len` bytes of `fd` from `offset`; the
/// caller's `Buffer` owns it and unmaps it on drop.
fn map_shared(fd: BorrowedFd<'_>, len: usize, offset: u64) -> rustix::io::Result<*mut c_void> {
    // SAFETY: a fresh mapping at an address the kernel picks overlaps nothing.
    unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::SHARED,
            fd,
            offset,
        )
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.wl_buffer.destroy();
        if let Some((card, dumb)) = self.gem.take() {
            let _ = card.destroy_dumb_buffer(dumb);
        }
        // SAFETY: unmapping exactly what `allocate`/`allocate_shm` mapped.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
    }
}

/// The client's event state.
#[derive(Default)]
pub struct State {
    configured: bool,
    size: (i32, i32),
    frames_done: u64,
    format_table: Option<(OwnedFd, u32)>,
    feedback: Feedback,
    tranche: Tranche,
    feedback_done: bool,
    failed_buffers: u32,
    presentation_log: FeedbackLog,
}

/// A connected client with a toplevel.
pub struct DmabufClient {
    conn: Connection,
    queue: EventQueue<State>,
    globals: GlobalList,
    state: State,
    pub surface: Option<WlSurface>,
    toplevel: Option<xdg_toplevel::XdgToplevel>,
    dmabuf: Option<ZwpLinuxDmabufV1>,
    /// The Accord connection and collection behind `allocate_collection`'s
    /// buffers; kept while they are in use.
    accord: Option<(accord_client::Accord, accord_client::Collection)>,
    timeout: Duration,
    /// Bound by [`DmabufClient::request_feedback`]: every commit then asks
    /// for presentation feedback.
    presentation: Option<WpPresentation>,
    viewport: Option<WpViewport>,
}

/// What an Accord collection gave the client.
#[derive(Debug, Clone)]
pub struct CollectionOutcome {
    pub format: u32,
    pub modifier: u64,
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub dmabuf: bool,
}

impl DmabufClient {
    /// Connects to the compositor's socket (an absolute path).
    pub fn connect(socket: &Path) -> Result<Self, Error> {
        let stream = UnixStream::connect(socket)
            .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
        let conn = Connection::from_socket(stream)?;
        let (globals, queue) = registry_queue_init::<State>(&conn)?;
        Ok(Self {
            conn,
            queue,
            globals,
            state: State::default(),
            surface: None,
            toplevel: None,
            dmabuf: None,
            accord: None,
            timeout: Duration::from_secs(30),
            presentation: None,
            viewport: None,
        })
    }

    fn dispatch_until(&mut self, what: &str, done: impl Fn(&State) -> bool) -> Result<(), Error> {
        let deadline = Instant::now() + self.timeout;
        while !done(&self.state) {
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}").into());
            }
            self.queue.flush()?;
            if let Some(guard) = self.queue.prepare_read() {
                let fd = guard.connection_fd();
                let mut fds = [rustix::event::PollFd::new(
                    &fd,
                    rustix::event::PollFlags::IN,
                )];
                let wait = rustix::event::Timespec {
                    tv_sec: 0,
                    tv_nsec: 100_000_000,
                };
                rustix::event::poll(&mut fds, Some(&wait))?;
                if !fds[0].revents().is_empty() {
                    guard.read()?;
                }
            }
            self.queue
                .dispatch_pending(&mut self.state)
                .map_err(|e| format!("while waiting for {what}: {e}"))?;
        }
        Ok(())
    }

    /// Binds `zwp_linux_dmabuf_v1` (v4+) and reads the default feedback.
    pub fn default_feedback(&mut self) -> Result<Feedback, Error> {
        let qh = self.queue.handle();
        let dmabuf: ZwpLinuxDmabufV1 = self
            .globals
            .bind(&qh, 4..=5, ())
            .map_err(|e| format!("zwp_linux_dmabuf_v1 v4+: {e}"))?;
        let fb = dmabuf.get_default_feedback(&qh, ());
        self.dmabuf = Some(dmabuf);
        self.dispatch_until("the default dmabuf feedback", |s| s.feedback_done)?;
        fb.destroy();
        Ok(self.state.feedback.clone())
    }

    /// Opens an xdg toplevel (fullscreen if asked) and waits for its first
    /// configure; returns the size to draw (the configured one, else
    /// `fallback`).
    pub fn open_window(
        &mut self,
        fullscreen: bool,
        fallback: (i32, i32),
    ) -> Result<(u32, u32), Error> {
        let qh = self.queue.handle();
        let compositor: WlCompositor = self.globals.bind(&qh, 4..=6, ())?;
        let wm_base: xdg_wm_base::XdgWmBase = self.globals.bind(&qh, 1..=6, ())?;
        let surface = compositor.create_surface(&qh, ());
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
        let toplevel = xdg_surface.get_toplevel(&qh, ());
        toplevel.set_title("accord dma-buf client".into());
        if fullscreen {
            toplevel.set_fullscreen(None);
        }
        surface.commit();
        self.dispatch_until("the first configure", |s| s.configured)?;
        self.surface = Some(surface);
        self.toplevel = Some(toplevel);
        let (w, h) = match self.state.size {
            (w, h) if w > 0 && h > 0 => (w, h),
            _ => fallback,
        };
        Ok((w as u32, h as u32))
    }

    /// Allocates `count` XRGB8888 dumb buffers of `size` on `card`, exports
    /// them with PRIME (read-write), maps them, and makes `wl_buffer`s of
    /// them with `choice`'s modifier.
    pub fn allocate(
        &mut self,
        card: &Path,
        size: (u32, u32),
        count: usize,
        choice: &Choice,
    ) -> Result<Vec<Buffer>, Error> {
        let dmabuf = self.dmabuf.clone().ok_or("call default_feedback first")?;
        let card = Rc::new(Card::open(card)?);
        let qh = self.queue.handle();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let dumb = card.create_dumb_buffer(size, DrmFourcc::Xrgb8888, 32)?;
            let exported = card.buffer_to_prime_fd(dumb.handle(), CLOEXEC | RDWR);
            let stride = dumb.pitch();
            let fd = match exported {
                Ok(fd) => fd,
                Err(err) => {
                    let _ = card.destroy_dumb_buffer(dumb);
                    return Err(err.into());
                }
            };
            let mapped = rustix::fs::fstat(&fd)
                .map_err(Error::from)
                .and_then(|st| Ok(usize::try_from(st.st_size)?))
                .and_then(|len| Ok((map_shared(fd.as_fd(), len, 0)?, len)));
            let (ptr, len) = match mapped {
                Ok(m) => m,
                Err(err) => {
                    let _ = card.destroy_dumb_buffer(dumb);
                    return Err(err);
                }
            };
            let p = dmabuf.create_params(&qh, ());
            p.add(
                fd.as_fd(),
                0,
                0,
                stride,
                (choice.modifier >> 32) as u32,
                choice.modifier as u32,
            );
            let wl_buffer = p.create_immed(
                size.0 as i32,
                size.1 as i32,
                choice.format,
                params::Flags::empty(),
                &qh,
                (),
            );
            p.destroy();
            out.push(Buffer {
                wl_buffer,
                dmabuf: fd,
                stride,
                ptr: ptr.cast(),
                len,
                gem: Some((card.clone(), dumb)),
            });
        }
        self.queue.roundtrip(&mut self.state)?;
        if self.state.failed_buffers > 0 {
            return Err(format!(
                "the compositor refused {} dma-buf(s)",
                self.state.failed_buffers
            )
            .into());
        }
        Ok(out)
    }

    /// Negotiates `count` XRGB8888 buffers of at least `size` through an
    /// Accord collection: this client (CPU write + scanout) plus the
    /// compositor as a participant for the window's surface
    /// (`attach_to_surface`). The compositor allocates (on KMS: dumb
    /// buffers on its card); the client maps what it gets.
    pub fn allocate_collection(
        &mut self,
        size: (u32, u32),
        count: u32,
    ) -> Result<(CollectionOutcome, Vec<Buffer>), Error> {
        use accord_client::{Accord, Constraints, MemoryKind, Usage};
        let surface = self.surface.clone().ok_or("call open_window first")?;
        let accord = Accord::new(&self.conn).map_err(|e| format!("Accord: {e}"))?;
        let token = accord.create_collection();
        token.set_name("zero-copy-scanout");
        token.duplicate().attach_to_surface(&surface);
        let collection = token.bind();
        collection.commit(
            &Constraints::new()
                .usage(Usage::CpuWrite | Usage::Scanout)
                .scanout_format(XRGB8888, MOD_LINEAR)
                .min_size(size.0, size.1)
                .buffers(count),
        );
        let allocation = collection
            .wait_allocated()
            .map_err(|e| format!("the collection failed: {e}"))?;
        let mut outcome = CollectionOutcome {
            format: allocation.format,
            modifier: allocation.modifier,
            width: allocation.width,
            height: allocation.height,
            stride: 0,
            dmabuf: allocation.memory == MemoryKind::DmaBuf,
        };
        let mut out = Vec::with_capacity(allocation.buffers.len());
        for buffer in allocation.buffers {
            let index = buffer.index;
            let len = usize::try_from(buffer.size)?;
            let plane = buffer
                .planes
                .into_iter()
                .next()
                .ok_or("a collection buffer without planes")?;
            let ptr = map_shared(plane.fd.as_fd(), len, plane.offset)?;
            outcome.stride = plane.stride;
            out.push(Buffer {
                wl_buffer: collection.wl_buffer(index),
                dmabuf: plane.fd,
                stride: plane.stride,
                ptr: ptr.cast(),
                len,
                gem: None,
            });
        }
        self.accord = Some((accord, collection));
        Ok((outcome, out))
    }

    /// An Accord collection with `constraints` for this client, the
    /// compositor a participant for the window's surface
    /// (`attach_to_surface`); the allocation as it came (fds to map), and
    /// each buffer's `wl_buffer`. The collection lives as long as this
    /// client (or the next collection).
    pub fn negotiate_collection(
        &mut self,
        name: &str,
        constraints: &accord_client::Constraints,
    ) -> Result<(accord_client::Allocation, Vec<WlBuffer>), Error> {
        let surface = self.surface.clone().ok_or("call open_window first")?;
        let accord = accord_client::Accord::new(&self.conn).map_err(|e| format!("Accord: {e}"))?;
        let token = accord.create_collection();
        let (collection, allocation, wl_buffers) =
            join_attached(&surface, token, name, constraints)?;
        self.accord = Some((accord, collection));
        Ok((allocation, wl_buffers))
    }

    /// Attaches `buffer`, damages all of it, commits, and waits for the frame
    /// callback (sent once the compositor presented this commit).
    pub fn present(&mut self, buffer: &Buffer) -> Result<(), Error> {
        self.present_wl_buffer(&buffer.wl_buffer)
    }

    /// [`present`](Self::present) for any `wl_buffer` (a collection's).
    pub fn present_wl_buffer(&mut self, wl_buffer: &WlBuffer) -> Result<(), Error> {
        let before = self.state.frames_done;
        self.commit_wl_buffer(wl_buffer, true)?;
        self.dispatch_until("a frame callback", |s| s.frames_done > before)
    }

    /// Attaches `wl_buffer`, damages all of it and commits (asking for
    /// presentation feedback after [`request_feedback`](Self::request_feedback),
    /// and for a frame callback if `frame`), without waiting.
    pub fn commit_wl_buffer(&mut self, wl_buffer: &WlBuffer, frame: bool) -> Result<(), Error> {
        let qh = self.queue.handle();
        let surface = self.surface.clone().ok_or("call open_window first")?;
        surface.attach(Some(wl_buffer), 0, 0);
        surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        if frame {
            surface.frame(&qh, ());
        }
        if let Some(presentation) = &self.presentation {
            self.state
                .presentation_log
                .request(presentation, &surface, &qh);
        }
        surface.commit();
        self.conn.flush()?;
        Ok(())
    }

    /// Commits nothing new (no buffer, no damage) with a frame callback
    /// (and feedback, if asked for) and waits for the callback.
    pub fn present_nothing(&mut self) -> Result<(), Error> {
        let qh = self.queue.handle();
        let surface = self.surface.clone().ok_or("call open_window first")?;
        surface.frame(&qh, ());
        if let Some(presentation) = &self.presentation {
            self.state
                .presentation_log
                .request(presentation, &surface, &qh);
        }
        surface.commit();
        let before = self.state.frames_done;
        self.dispatch_until("a frame callback", |s| s.frames_done > before)
    }

    /// Binds `wp_presentation`: from now on every commit asks for feedback,
    /// logged in [`feedback`](Self::feedback).
    pub fn request_feedback(&mut self) -> Result<(), Error> {
        let qh = self.queue.handle();
        let presentation: WpPresentation = self
            .globals
            .bind(&qh, 1..=2, ())
            .map_err(|e| format!("wp_presentation: {e}"))?;
        self.presentation = Some(presentation);
        Ok(())
    }

    /// The presentation feedback of every commit since
    /// [`request_feedback`](Self::request_feedback).
    pub fn feedback(&self) -> &FeedbackLog {
        &self.state.presentation_log
    }

    /// Waits until every commit's feedback is answered.
    pub fn wait_for_feedback(&mut self) -> Result<(), Error> {
        self.dispatch_until("presentation feedback", |s| {
            s.presentation_log.answered_from(0)
        })
    }

    /// Gives the surface a `wp_viewport` with a source crop (x, y, w, h in
    /// surface coordinates) and a destination size, applied at the next
    /// commit.
    pub fn set_viewport(
        &mut self,
        src: Option<(f64, f64, f64, f64)>,
        dst: Option<(i32, i32)>,
    ) -> Result<(), Error> {
        let qh = self.queue.handle();
        let surface = self.surface.clone().ok_or("call open_window first")?;
        if self.viewport.is_none() {
            let viewporter: WpViewporter = self
                .globals
                .bind(&qh, 1..=1, ())
                .map_err(|e| format!("wp_viewporter: {e}"))?;
            self.viewport = Some(viewporter.get_viewport(&surface, &qh, ()));
        }
        let viewport = self.viewport.as_ref().ok_or("no viewport")?;
        match src {
            Some((x, y, w, h)) => viewport.set_source(x, y, w, h),
            None => viewport.set_source(-1.0, -1.0, -1.0, -1.0),
        }
        match dst {
            Some((w, h)) => viewport.set_destination(w, h),
            None => viewport.set_destination(-1, -1),
        }
        Ok(())
    }

    /// `count` XRGB8888 `wl_shm` buffers of `size` (stride width × 4) in
    /// one memfd pool, each mapped: the copy baseline (`Buffer::dmabuf`
    /// holds the memfd).
    pub fn allocate_shm(&mut self, size: (u32, u32), count: usize) -> Result<Vec<Buffer>, Error> {
        let (w, h) = size;
        if !(1..=8192).contains(&w) || !(1..=8192).contains(&h) || !(1..=8).contains(&count) {
            return Err(
                format!("shm {w}x{h} x {count}: expected 1..=8192 pixels, 1..=8 buffers").into(),
            );
        }
        let stride = w * 4;
        // Each buffer at a page boundary, so each maps on its own.
        let slot = (u64::from(stride) * u64::from(h)).next_multiple_of(4096);
        let total = slot * count as u64;
        let qh = self.queue.handle();
        let shm: wl_shm::WlShm = self.globals.bind(&qh, 1..=1, ())?;
        let fd = rustix::fs::memfd_create("accord-shm-copy", rustix::fs::MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(&fd, total)?;
        let pool = shm.create_pool(fd.as_fd(), i32::try_from(total)?, &qh, ());
        let mut out = Vec::with_capacity(count);
        for i in 0..count as u64 {
            let wl_buffer = pool.create_buffer(
                i32::try_from(i * slot)?,
                w as i32,
                h as i32,
                stride as i32,
                wl_shm::Format::Xrgb8888,
                &qh,
                (),
            );
            let len = (u64::from(stride) * u64::from(h)) as usize;
            let ptr = map_shared(fd.as_fd(), len, i * slot)?;
            out.push(Buffer {
                wl_buffer,
                dmabuf: fd.try_clone()?,
                stride,
                ptr: ptr.cast(),
                len,
                gem: None,
            });
        }
        pool.destroy();
        Ok(out)
    }

    /// The connection, e.g. to flush.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl ClientEvents for State {
    fn configured(&mut self) {
        self.configured = true;
    }
    fn toplevel_configure(&mut self, size: (i32, i32), _states: Vec<u32>) {
        self.size = size;
    }
    fn frame_done(&mut self) {
        self.frames_done += 1;
    }
}
crate::delegate_client_plumbing!(State);

impl PresentationEvents for State {
    fn feedback_log(&mut self) -> &mut FeedbackLog {
        &mut self.presentation_log
    }
}
wayland_client::delegate_dispatch!(State: [WpPresentation: ()] => FeedbackDelegate);
wayland_client::delegate_dispatch!(State: [WpPresentationFeedback: usize] => FeedbackDelegate);
delegate_noop!(State: ignore WpViewporter);
delegate_noop!(State: ignore WpViewport);

impl Dispatch<ZwpLinuxBufferParamsV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxBufferParamsV1,
        event: params::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let params::Event::Failed = event {
            state.failed_buffers += 1;
        }
    }
}

/// `dev_t` as sent on the wire: native-endian bytes.
fn dev_from_bytes(bytes: &[u8]) -> u64 {
    let mut raw = [0u8; 8];
    let n = bytes.len().min(8);
    raw[..n].copy_from_slice(&bytes[..n]);
    u64::from_ne_bytes(raw)
}

/// The format table: 16-byte entries (u32 format, 4 bytes padding, u64 modifier).
fn read_format_table(fd: &OwnedFd, size: u32) -> Vec<(u32, u64)> {
    let len = size as usize;
    if len == 0 {
        return Vec::new();
    }
    // SAFETY: a private read-only mapping of the table the compositor sent,
    // unmapped before returning.
    let Ok(ptr) = (unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::PRIVATE,
            fd,
            0,
        )
    }) else {
        return Vec::new();
    };
    // SAFETY: `len` readable bytes until the munmap below.
    let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    let table = bytes
        .chunks_exact(16)
        .map(|e| {
            let format = u32::from_ne_bytes([e[0], e[1], e[2], e[3]]);
            let mut m = [0u8; 8];
            m.copy_from_slice(&e[8..16]);
            (format, u64::from_ne_bytes(m))
        })
        .collect();
    // SAFETY: unmapping exactly what was mapped.
    let _ = unsafe { rustix::mm::munmap(ptr, len) };
    table
}

impl Dispatch<ZwpLinuxDmabufFeedbackV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxDmabufFeedbackV1,
        event: feedback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            feedback::Event::FormatTable { fd, size } => state.format_table = Some((fd, size)),
            feedback::Event::MainDevice { device } => {
                state.feedback.main_device = dev_from_bytes(&device)
            }
            feedback::Event::TrancheTargetDevice { device } => {
                state.tranche.target_device = dev_from_bytes(&device)
            }
            feedback::Event::TrancheFlags { flags } => {
                state.tranche.scanout =
                    matches!(flags, WEnum::Value(f) if f.contains(TrancheFlags::Scanout))
            }
            feedback::Event::TrancheFormats { indices } => {
                let table = match &state.format_table {
                    Some((fd, size)) => read_format_table(fd, *size),
                    None => Vec::new(),
                };
                for i in indices.chunks_exact(2) {
                    let i = u16::from_ne_bytes([i[0], i[1]]) as usize;
                    if let Some(pair) = table.get(i) {
                        state.tranche.formats.push(*pair);
                    }
                }
            }
            feedback::Event::TrancheDone => {
                let tranche = std::mem::take(&mut state.tranche);
                state.feedback.tranches.push(tranche);
            }
            feedback::Event::Done => state.feedback_done = true,
            _ => {}
        }
    }
}

delegate_noop!(State: ignore WlCompositor);
delegate_noop!(State: ignore wl_shm::WlShm);
delegate_noop!(State: ignore WlShmPool);
delegate_noop!(State: ignore WlSurface);
delegate_noop!(State: ignore ZwpLinuxDmabufV1);

/// Names `token`, attaches a duplicate of it to `surface` (the compositor
/// joins for the surface), binds it with `constraints` and waits for the
/// allocation: the collection, the allocation as it came, and each
/// buffer's `wl_buffer`.
pub fn join_attached(
    surface: &wayland_client::protocol::wl_surface::WlSurface,
    token: accord_client::Token,
    name: &str,
    constraints: &accord_client::Constraints,
) -> Result<
    (
        accord_client::Collection,
        accord_client::Allocation,
        Vec<WlBuffer>,
    ),
    Error,
> {
    token.set_name(name);
    token.duplicate().attach_to_surface(surface);
    let collection = token.bind();
    collection.commit(constraints);
    let allocation = collection
        .wait_allocated()
        .map_err(|e| format!("the collection failed: {e}"))?;
    let wl_buffers = allocation
        .buffers
        .iter()
        .map(|b| collection.wl_buffer(b.index))
        .collect();
    Ok((collection, allocation, wl_buffers))
}
