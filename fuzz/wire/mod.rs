//! Fuzz logic for the wire: arbitrary message sequences from up to three
//! clients to the Accord server module (in-process, see [`server`]).
//!
//! Each client binds the Accord manager and `wl_compositor`; the fuzzer's
//! bytes then pick requests on the client's live objects with arguments
//! from the protocol's own signatures (edge-valued integers, format tables,
//! handles other clients were given, wrong object ids, null strings),
//! interleaved with raw garbage, dispatches, and abrupt disconnects, also
//! mid-message. Invariants, besides "the compositor never panics":
//! - a protocol error names a reason (non-empty message);
//! - a live client always gets its `wl_display.sync` answered (no stall);
//! - once every handle given out was redeemed and every client is gone,
//!   the module holds no object, token or handle for any of them (save
//!   handles a client was killed before it could receive: they stay
//!   pending until they expire, as a handle in flight must), no bytes are
//!   charged to anyone, and the process has the
//!   file descriptors it had before the case (no fd leak, allocated buffers
//!   included).

pub mod server;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;

use accord_protocol::server::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1;
use accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
use smithay::reexports::wayland_server::backend::protocol::{AllowNull, ArgumentType, Interface};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::__interfaces::{
    WL_CALLBACK_INTERFACE, WL_COMPOSITOR_INTERFACE, WL_DISPLAY_INTERFACE, WL_REGISTRY_INTERFACE,
};
use smithay::reexports::wayland_server::Resource;

use crate::bytes::Bytes;
pub use server::Server;

/// Most clients per case (two are enough to pass handles; three make
/// three-party collections).
pub const MAX_CLIENTS: usize = 3;
/// Most operations per case.
pub const MAX_OPS: usize = 64;
/// Whether [`check`] sends null for every string argument. On: the XML
/// marks the request strings `allow-null` (wayland-rs's generated parser
/// would otherwise unwrap a null and panic the compositor) and the handlers
/// answer a null with a protocol error (FUZZING.md, finding 1, fixed).
pub const NULL_FOR_NON_NULLABLE: bool = true;
/// libwayland's limit on one message.
const MAX_MESSAGE: usize = 4096;

const DISPLAY: u32 = 1;
const REGISTRY: u32 = 2;

/// Outcomes seen over all cases, to check that the fuzzer gets deep
/// (collections allocated, failures, protocol errors).
pub mod stats {
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
    pub static FAILED: AtomicUsize = AtomicUsize::new(0);
    pub static PROTOCOL_ERRORS: AtomicUsize = AtomicUsize::new(0);

    /// `ClientData::disconnected` calls for a client already counted
    /// (wayland-backend's double call, FUZZING.md finding 6).
    pub static REPEATED_DISCONNECTS: AtomicUsize = AtomicUsize::new(0);
    /// Handles left pending by a gone client's garbage messages (a raw
    /// message that was a well-formed `export`, finding 10).
    pub static GARBAGE_PENDING: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn count(c: &AtomicUsize) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// (allocated, failed, protocol errors) so far.
    pub fn get() -> (usize, usize, usize) {
        let g = |c: &AtomicUsize| c.load(Ordering::Relaxed);
        (g(&ALLOCATED), g(&FAILED), g(&PROTOCOL_ERRORS))
    }

    /// A garbage message the harness turned into an invalid opcode
    /// (`steer_clear_of_smithay`): the request it would have been
    /// (`interface.request`, or `unknown object`) and its payload.
    #[derive(Clone, Debug)]
    pub struct Steered {
        pub request: String,
        pub payload: Vec<u8>,
    }

    static STEERED: std::sync::Mutex<Vec<Steered>> = std::sync::Mutex::new(Vec::new());

    pub(super) fn steered(request: String, payload: &[u8]) {
        let mut s = STEERED.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a long fuzzing run only needs the count to stay sane.
        if s.len() < 1024 {
            s.push(Steered {
                request,
                payload: payload.to_vec(),
            });
        }
    }

    /// The steered messages recorded since the last call.
    pub fn take_steered() -> Vec<Steered> {
        std::mem::take(&mut *STEERED.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One client speaking raw wire bytes.
struct WireClient {
    id: ClientId,
    sock: Option<UnixStream>,
    /// Live objects (client- and server-created) and their interfaces.
    objects: HashMap<u32, &'static Interface>,
    next_id: u32,
    /// Bytes written but not yet sent (sent on dispatch).
    out: Vec<u8>,
    /// Bytes received but not yet parsed.
    incoming: Vec<u8>,
    /// The protocol error this client got, if any.
    error: Option<(u32, String)>,
    /// `wl_callback.done` seen for these callback ids.
    done: Vec<u32>,
    /// Globals: name, interface, version.
    globals: Vec<(u32, String, u32)>,
    /// Handles from `token.handle` events, not yet shared with the case.
    handles: Vec<Vec<u8>>,
    /// `export` requests sent and `handle` events received: a handle the
    /// client never saw (it was killed first) stays pending until it
    /// expires, and nobody can redeem it.
    exports: usize,
    handles_received: usize,
    /// Sent a raw message: wayland-backend 0.3 waits forever for the rest
    /// of a message whose size is too short for its signature, so such a
    /// client may legitimately get no answer (its own connection only).
    sent_garbage: bool,
    /// Raw messages sent: one may have been a well-formed `export` the
    /// client never saw the handle of (killed first), so each may leave
    /// one handle pending until it expires (finding 4).
    garbage: usize,
    /// Tokens after `bind`/`export`, collections after `commit`.
    inert: std::collections::HashSet<u32>,
    committed: std::collections::HashSet<u32>,
}

/// `ACCORD_FUZZ_TRACE=1` prints every operation and event (to debug a
/// reproducer: `cargo fuzz run wire FILE` or the seeded test).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("ACCORD_FUZZ_TRACE").is_some())
}

macro_rules! trace {
    ($($t:tt)*) => {
        if tracing() {
            eprintln!($($t)*);
        }
    };
}

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// One message being encoded.
struct Message {
    args: Vec<u8>,
}

impl Message {
    fn new() -> Message {
        Message { args: Vec::new() }
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.args.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32);
        self.args.extend_from_slice(b);
        self.args.resize(pad4(self.args.len()), 0);
        self
    }
    fn string(&mut self, s: &[u8]) -> &mut Self {
        let mut b = s.to_vec();
        b.push(0);
        self.bytes(&b)
    }
    fn finish(&self, object: u32, opcode: u16) -> Vec<u8> {
        let size = 8 + self.args.len();
        let mut m = Vec::with_capacity(size);
        m.extend_from_slice(&object.to_ne_bytes());
        m.extend_from_slice(&(((size as u32) << 16) | u32::from(opcode)).to_ne_bytes());
        m.extend_from_slice(&self.args);
        m
    }
}

impl WireClient {
    fn new(server: &mut Server) -> WireClient {
        let (id, sock) = server.connect();
        let mut objects = HashMap::new();
        objects.insert(DISPLAY, &WL_DISPLAY_INTERFACE);
        WireClient {
            id,
            sock: Some(sock),
            objects,
            next_id: 2,
            out: Vec::new(),
            incoming: Vec::new(),
            error: None,
            done: Vec::new(),
            globals: Vec::new(),
            handles: Vec::new(),
            exports: 0,
            handles_received: 0,
            sent_garbage: false,
            garbage: 0,
            inert: Default::default(),
            committed: Default::default(),
        }
    }

    /// Live objects of interface `name`, by id.
    fn live_of(&self, name: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .objects
            .iter()
            .filter(|(_, i)| i.name == name)
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    fn alive(&self) -> bool {
        self.sock.is_some() && self.error.is_none()
    }

    fn new_id(&mut self, interface: &'static Interface) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.objects.insert(id, interface);
        id
    }

    /// `wl_display.sync`; returns the callback id.
    fn sync(&mut self) -> u32 {
        let id = self.new_id(&WL_CALLBACK_INTERFACE);
        let m = Message::new().u32(id).finish(DISPLAY, 0);
        self.out.extend_from_slice(&m);
        id
    }

    /// Send what is queued (the socket buffer is large enough for a case).
    fn send(&mut self) {
        if let Some(sock) = &mut self.sock {
            if sock.write_all(&self.out).is_err() {
                // The server hung up on us (a protocol error in flight).
                self.sock = None;
            }
        }
        self.out.clear();
    }

    /// Read and parse everything the server sent.
    fn receive(&mut self) -> Result<(), String> {
        let Some(sock) = &mut self.sock else {
            return Ok(());
        };
        let mut buf = [0u8; 4096];
        let mut hung_up = false;
        loop {
            // Plain reads: fds that come with `plane` events are closed by
            // the kernel, never installed here.
            match sock.read(&mut buf) {
                Ok(0) => {
                    hung_up = true;
                    break;
                }
                Ok(n) => self.incoming.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    hung_up = true;
                    break;
                }
            }
        }
        self.parse()?;
        if hung_up {
            trace!("  {:?} hung up on by the server", self.id);
            self.sock = None;
        }
        Ok(())
    }

    fn parse(&mut self) -> Result<(), String> {
        let mut at = 0;
        while self.incoming.len() >= at + 8 {
            let word =
                |i: usize| u32::from_ne_bytes(self.incoming[i..i + 4].try_into().expect("4 bytes"));
            let (object, head) = (word(at), word(at + 4));
            let (size, opcode) = ((head >> 16) as usize, (head & 0xffff) as usize);
            if size < 8 || size & 3 != 0 {
                return Err(format!("server sent a malformed header {head:#x}"));
            }
            if self.incoming.len() < at + size {
                break;
            }
            let body = self.incoming[at + 8..at + size].to_vec();
            at += size;
            self.event(object, opcode, &body)?;
        }
        self.incoming.drain(..at);
        Ok(())
    }

    /// Decode one event generically from the interface's signature.
    fn event(&mut self, object: u32, opcode: usize, body: &[u8]) -> Result<(), String> {
        let Some(&interface) = self.objects.get(&object) else {
            // Events for objects we already destroyed are legal (the
            // server sent them before it saw the destructor).
            return Ok(());
        };
        let Some(desc) = interface.events.get(opcode) else {
            return Err(format!("{} has no event {opcode}", interface.name));
        };
        let mut args: Vec<Arg> = Vec::new();
        let mut r = body;
        for ty in desc.signature {
            let mut take = |n: usize| -> Result<&[u8], String> {
                if r.len() < n {
                    return Err(format!("{}.{}: truncated event", interface.name, desc.name));
                }
                let (a, b) = r.split_at(n);
                r = b;
                Ok(a)
            };
            match ty {
                ArgumentType::Str(_) | ArgumentType::Array => {
                    let len = u32::from_ne_bytes(take(4)?.try_into().expect("4")) as usize;
                    let b = take(pad4(len))?;
                    args.push(Arg::Bytes(b[..len].to_vec()));
                }
                ArgumentType::Fd => args.push(Arg::Int(0)),
                _ => args.push(Arg::Int(u32::from_ne_bytes(
                    take(4)?.try_into().expect("4"),
                ))),
            }
        }
        if let Some(child) = desc.child_interface {
            // A server-created object.
            for (ty, a) in desc.signature.iter().zip(&args) {
                if let (ArgumentType::NewId, Arg::Int(id)) = (ty, a) {
                    self.objects.insert(*id, child);
                }
            }
        }
        let name = (interface.name, desc.name);
        trace!(
            "  {:?} <- {}@{object}.{}",
            self.id,
            interface.name,
            desc.name
        );
        match (name, args.as_slice()) {
            (("wl_display", "error"), [_, Arg::Int(code), Arg::Bytes(msg)]) => {
                let msg = String::from_utf8_lossy(msg)
                    .trim_end_matches('\0')
                    .to_string();
                trace!("  error {code}: {msg}");
                stats::count(&stats::PROTOCOL_ERRORS);
                if msg.is_empty() {
                    return Err(format!("protocol error {code} without a message"));
                }
                self.error = Some((*code, msg));
            }
            (("wl_display", "delete_id"), [Arg::Int(id)]) => {
                self.objects.remove(id);
            }
            (("wl_registry", "global"), [Arg::Int(n), Arg::Bytes(i), Arg::Int(v)]) => {
                let i = String::from_utf8_lossy(i)
                    .trim_end_matches('\0')
                    .to_string();
                self.globals.push((*n, i, *v));
            }
            (("wl_callback", "done"), _) => self.done.push(object),
            (("wp_buffer_collection_v1", "allocated"), _) => stats::count(&stats::ALLOCATED),
            (("wp_buffer_collection_v1", "failed"), _) => stats::count(&stats::FAILED),
            (("wp_buffer_collection_token_v1", "handle"), [Arg::Bytes(h)]) => {
                let h = h.strip_suffix(b"\0").unwrap_or(h);
                self.handles.push(h.to_vec());
                self.handles_received += 1;
            }
            _ => {}
        }
        if desc.is_destructor {
            self.objects.remove(&object);
        }
        Ok(())
    }

    /// `wl_registry.bind` of the global `interface`, if advertised.
    fn bind(&mut self, interface: &'static Interface) {
        let Some((name, _, version)) = self
            .globals
            .iter()
            .find(|(_, i, _)| i == interface.name)
            .cloned()
        else {
            return;
        };
        let id = self.new_id(interface);
        let m = Message::new()
            .u32(name)
            .string(interface.name.as_bytes())
            .u32(version.min(interface.version))
            .u32(id)
            .finish(REGISTRY, 0);
        self.out.extend_from_slice(&m);
    }
}

/// A decoded event argument.
enum Arg {
    Int(u32),
    Bytes(Vec<u8>),
}

/// Everything about a case that outlives one client.
struct Case<'s> {
    server: &'s mut Server,
    clients: Vec<WireClient>,
    /// Handles any client received, to be redeemed by others.
    handles: Vec<Vec<u8>>,
}

impl Case<'_> {
    fn dispatch(&mut self) -> Result<(), String> {
        for c in &mut self.clients {
            c.send();
        }
        self.server.dispatch();
        for c in &mut self.clients {
            c.receive()?;
            // Any client may redeem a handle; most tries use a real one.
            self.handles.append(&mut c.handles);
        }
        Ok(())
    }

    /// A client with the registry read and Accord and `wl_compositor` bound.
    fn connect(&mut self) -> Result<(), String> {
        let mut c = WireClient::new(self.server);
        let registry = c.new_id(&WL_REGISTRY_INTERFACE);
        let m = Message::new().u32(registry).finish(DISPLAY, 1);
        c.out.extend_from_slice(&m);
        self.clients.push(c);
        self.dispatch()?;
        let c = self.clients.last_mut().expect("just pushed");
        if !c
            .globals
            .iter()
            .any(|(_, i, _)| i == "wp_buffer_collection_manager_v1")
        {
            return Err("the Accord global is not advertised".into());
        }
        c.bind(WpBufferCollectionManagerV1::interface());
        c.bind(&WL_COMPOSITOR_INTERFACE);
        self.dispatch()
    }
}

/// Interfaces whose requests the fuzzer sends (the display and registry
/// only get the prologue and syncs).
fn fuzzed(interface: &Interface) -> bool {
    !matches!(interface.name, "wl_display" | "wl_registry" | "wl_callback")
}

/// Every Accord request; of the core protocol only what touches Accord's
/// objects (surfaces to attach tokens to, collection `wl_buffer`s).
/// Smithay's own handlers are not the target: `wl_region.add` with a
/// negative size trips a `debug_assert` in smithay 0.7 (FUZZING.md).
fn fuzzed_request(interface: &Interface, request: &str) -> bool {
    interface.name.starts_with("wp_buffer_collection")
        || matches!(
            (interface.name, request),
            ("wl_compositor", "create_surface")
                | ("wl_surface", "destroy" | "attach" | "commit")
                | ("wl_buffer", "destroy")
        )
}

fn opcode_of(interface: &Interface, request: &str) -> u16 {
    let i = interface.requests.iter().position(|r| r.name == request);
    i.expect("request of the interface") as u16
}

/// Common formats, so collections from different clients can agree.
const FOURCCS: [&[u8; 4]; 4] = [b"XR24", b"AR24", b"NV12", b"YUYV"];

/// A format table (`add_formats`): 16-byte entries of fourcc, flags,
/// modifier; or sometimes a malformed one.
fn format_table(b: &mut Bytes) -> Vec<u8> {
    let n = b.below(6);
    let mut t = Vec::new();
    for _ in 0..n {
        let fourcc = match b.below(6) {
            i @ 0..=3 => u32::from_le_bytes(*FOURCCS[i]),
            _ => b.raw_u32(),
        };
        t.extend_from_slice(&fourcc.to_ne_bytes());
        t.extend_from_slice(&u32::from(b.u8() % 3).to_ne_bytes());
        let modifier = match b.below(4) {
            0 | 1 => 0,
            2 => 0x00ff_ffff_ffff_ffff,
            _ => b.raw_u64(),
        };
        t.extend_from_slice(&modifier.to_ne_bytes());
    }
    if b.below(8) == 0 {
        // Not a multiple of 16, or a huge table.
        match b.below(2) {
            0 => t.truncate(t.len().saturating_sub(1 + b.below(15))),
            _ => t = t.repeat(1 + b.below(200)),
        }
    }
    t
}

/// Requests that are legal in an object's current state: a token after
/// `bind`/`export`/`create_group` accepts only `destroy`; a collection
/// after `commit` only `get_wl_buffer`, `attach_token` (a late
/// participant) and `destroy`; a token group after `all_children_present`
/// only `destroy`. Random requests mostly respect this
/// (the rest are misuse on purpose), so that cases get deep.
fn legal(c: &WireClient, object: u32, request: &str) -> bool {
    if c.inert.contains(&object) {
        return request == "destroy";
    }
    if c.committed.contains(&object) {
        return matches!(request, "destroy" | "get_wl_buffer" | "attach_token");
    }
    request != "get_wl_buffer"
}

/// A plausible value for an integer argument: small, aligned sizes and
/// counts mostly, edge values sometimes.
fn int_arg(b: &mut Bytes) -> u32 {
    match b.below(8) {
        0 | 1 => b.u32_edge(4096),
        2 => 0,
        3 => 1 << (b.u8() % 12),
        _ => 1 + u32::from(b.u8()) % 64,
    }
}

/// One request on one of `c`'s live objects, arguments from the signature.
fn request(
    c: &mut WireClient,
    handles: &[Vec<u8>],
    b: &mut Bytes,
    any_null: bool,
) -> Option<Vec<u8>> {
    let mut live: Vec<(u32, &'static Interface)> = c
        .objects
        .iter()
        .filter(|(_, i)| fuzzed(i))
        .map(|(&id, &i)| (id, i))
        .collect();
    if live.is_empty() {
        return None;
    }
    live.sort_by_key(|&(id, _)| id);
    let (object, interface) = live[b.below(live.len())];
    let misuse = b.below(8) == 0;
    let allowed: Vec<usize> = (0..interface.requests.len())
        .filter(|&i| {
            let name = interface.requests[i].name;
            fuzzed_request(interface, name) && (misuse || legal(c, object, name))
        })
        .collect();
    if allowed.is_empty() {
        return None;
    }
    let opcode = allowed[b.below(allowed.len())];
    encode(c, object, interface, opcode, handles, b, any_null)
}

/// Encode request `opcode` on `object`, arguments drawn from `b`, and
/// track what it does to the client's objects.
fn encode(
    c: &mut WireClient,
    object: u32,
    interface: &'static Interface,
    opcode: usize,
    handles: &[Vec<u8>],
    b: &mut Bytes,
    any_null: bool,
) -> Option<Vec<u8>> {
    let desc = &interface.requests[opcode];
    let mut live: Vec<(u32, &'static Interface)> =
        c.objects.iter().map(|(&id, &i)| (id, i)).collect();
    live.sort_by_key(|&(id, _)| id);
    let mut m = Message::new();
    let mut object_args = desc.arg_interfaces.iter();
    for ty in desc.signature {
        match ty {
            ArgumentType::Int | ArgumentType::Uint | ArgumentType::Fixed => {
                m.u32(int_arg(b));
            }
            ArgumentType::Str(nullable) => match b.below(8) {
                0 if *nullable == AllowNull::Yes || any_null => {
                    m.u32(0); // null
                }
                1 => {
                    m.string(&vec![b'x'; b.below(300)]);
                }
                2 | 3 => {
                    let s: Vec<u8> = (0..b.below(12)).map(|_| b'a' + b.u8() % 26).collect();
                    m.string(&s);
                }
                _ if !handles.is_empty() => {
                    m.string(&handles[b.below(handles.len())]);
                }
                _ => {
                    m.string(b"name");
                }
            },
            ArgumentType::Object(_) => {
                let want = object_args.next();
                let of_kind: Vec<u32> = live
                    .iter()
                    .filter(|(_, i)| want.is_some_and(|w| w.name == i.name))
                    .map(|&(id, _)| id)
                    .collect();
                let id = match b.below(16) {
                    0 => 0,
                    1 => b.raw_u32(),
                    2 => live[b.below(live.len())].0,
                    _ if !of_kind.is_empty() => of_kind[b.below(of_kind.len())],
                    _ => 0,
                };
                m.u32(id);
            }
            ArgumentType::NewId => {
                let id = match (b.below(32), desc.child_interface) {
                    (0, _) => live[b.below(live.len())].0, // id in use
                    (_, Some(child)) => c.new_id(child),
                    (_, None) => return None,
                };
                m.u32(id);
            }
            ArgumentType::Array => {
                if desc.name == "add_formats" || b.below(4) == 0 {
                    m.bytes(&format_table(b));
                } else {
                    let n = b.below(4) * 8;
                    let a: Vec<u8> = (0..n).map(|_| b.u8()).collect();
                    m.bytes(&a);
                }
            }
            // No fuzzed interface takes fds.
            ArgumentType::Fd => return None,
        }
    }
    match desc.name {
        _ if desc.is_destructor => {
            c.objects.remove(&object);
        }
        "bind" | "export" | "create_group" => {
            c.inert.insert(object);
        }
        "commit" | "all_children_present" => {
            c.committed.insert(object);
        }
        _ => {}
    }
    if desc.name == "export" {
        c.exports += 1;
    }
    let msg = m.finish(object, opcode as u16);
    trace!(
        "{:?} -> {}@{object}.{} ({} bytes)",
        c.id,
        interface.name,
        desc.name,
        msg.len()
    );
    (msg.len() <= MAX_MESSAGE || b.below(4) == 0).then_some(msg)
}

/// A well-formed participant: bind a live token of `c` (or a new
/// collection's), add a format table, maybe a size range, commit.
fn participant(c: &mut WireClient, b: &mut Bytes) -> Vec<u8> {
    let mut out = Vec::new();
    let tokens: Vec<u32> = c
        .live_of("wp_buffer_collection_token_v1")
        .into_iter()
        .filter(|id| !c.inert.contains(id))
        .collect();
    let token = match tokens.as_slice() {
        [] => {
            let Some(&manager) = c.live_of("wp_buffer_collection_manager_v1").first() else {
                return out;
            };
            let t = c.new_id(WpBufferCollectionTokenV1::interface());
            let op = opcode_of(
                WpBufferCollectionManagerV1::interface(),
                "create_collection",
            );
            out.extend(Message::new().u32(t).finish(manager, op));
            t
        }
        ts => ts[b.below(ts.len())],
    };
    let token_if = WpBufferCollectionTokenV1::interface();
    let Some(collection_if) =
        token_if.requests[opcode_of(token_if, "bind") as usize].child_interface
    else {
        return out;
    };
    let coll = c.new_id(collection_if);
    out.extend(
        Message::new()
            .u32(coll)
            .finish(token, opcode_of(token_if, "bind")),
    );
    c.inert.insert(token);
    let table = if b.below(4) == 0 {
        format_table(b)
    } else {
        // XRGB8888 LINEAR: what the test compositor's renderer imports.
        let mut t = u32::from_le_bytes(*b"XR24").to_ne_bytes().to_vec();
        t.extend_from_slice(&0u32.to_ne_bytes());
        t.extend_from_slice(&0u64.to_ne_bytes());
        t
    };
    out.extend(
        Message::new()
            .bytes(&table)
            .finish(coll, opcode_of(collection_if, "add_formats")),
    );
    if b.bool() {
        let (w, h) = (1 + u32::from(b.u8()), 1 + u32::from(b.u8()));
        out.extend(
            Message::new()
                .u32(w)
                .u32(h)
                .u32(0)
                .u32(0)
                .finish(coll, opcode_of(collection_if, "set_size_range")),
        );
    }
    // Issue 12's version-2 requests: required sizes (sometimes a minimum
    // above the maximum: invalid_value) and a maximum area.
    if b.below(4) == 0 {
        let mut m = Message::new();
        for _ in 0..4 {
            m.u32(u32::from(b.u8()) * 16);
        }
        out.extend(m.finish(coll, opcode_of(collection_if, "set_required_size")));
        let area = u32::from(b.u16()) * 4;
        out.extend(
            Message::new()
                .u32(0)
                .u32(area)
                .finish(coll, opcode_of(collection_if, "set_max_area")),
        );
    }
    // Per-format limits for the table's first format (XRGB8888 LINEAR's
    // when the table is the plain one), sometimes twice (invalid_format_table).
    if b.below(4) == 0 {
        let format = table
            .get(..4)
            .map_or(0, |f| u32::from_ne_bytes(f.try_into().unwrap_or_default()));
        for _ in 0..1 + b.below(4) / 3 {
            let mut m = Message::new();
            m.u32(format);
            for _ in 0..4 {
                m.u32(u32::from(b.u8()) * 8);
            }
            for _ in 0..2 {
                m.u32(1 << (b.u8() % 4));
            }
            m.u32(0).u32(0).u32(1 << (b.u8() % 8));
            out.extend(m.finish(coll, opcode_of(collection_if, "add_format_limits")));
        }
    }
    // Issue 12's raw buffers: a byte minimum (with an empty format table
    // the participant is a raw one), sometimes above its own max_bytes
    // (invalid_value at commit).
    if b.below(4) == 0 {
        let min = u32::from(b.u16()) * 64;
        out.extend(
            Message::new()
                .u32(0)
                .u32(min)
                .finish(coll, opcode_of(collection_if, "set_min_size_bytes")),
        );
        if b.below(4) == 0 {
            out.extend(
                Message::new()
                    .u32(0)
                    .u32(min / 2)
                    .finish(coll, opcode_of(collection_if, "set_max_bytes")),
            );
        }
    }
    if b.below(4) != 0 {
        out.extend(Message::new().finish(coll, opcode_of(collection_if, "commit")));
        c.committed.insert(coll);
    }
    out
}

/// Share a collection: a new collection whose root token is duplicated
/// (`c` keeps one) and exported (another client may import it).
fn share(c: &mut WireClient) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(&manager) = c.live_of("wp_buffer_collection_manager_v1").first() else {
        return out;
    };
    let token_if = WpBufferCollectionTokenV1::interface();
    let t = c.new_id(token_if);
    let op = opcode_of(
        WpBufferCollectionManagerV1::interface(),
        "create_collection",
    );
    out.extend(Message::new().u32(t).finish(manager, op));
    let d = c.new_id(token_if);
    out.extend(
        Message::new()
            .u32(d)
            .finish(t, opcode_of(token_if, "duplicate")),
    );
    out.extend(Message::new().finish(d, opcode_of(token_if, "export")));
    c.inert.insert(d);
    c.exports += 1;
    out
}

/// Import a handle another client exported.
fn import(c: &mut WireClient, handles: &[Vec<u8>], b: &mut Bytes) -> Vec<u8> {
    let (Some(&manager), false) = (
        c.live_of("wp_buffer_collection_manager_v1").first(),
        handles.is_empty(),
    ) else {
        return Vec::new();
    };
    let t = c.new_id(WpBufferCollectionTokenV1::interface());
    let op = opcode_of(WpBufferCollectionManagerV1::interface(), "import_token");
    Message::new()
        .u32(t)
        .string(&handles[b.below(handles.len())])
        .finish(manager, op)
}

/// A message with a random opcode and payload. Its size field is right:
/// a size larger than what follows would only make the server wait for
/// the rest (a cut message is the disconnect operation's business).
fn garbage(c: &WireClient, b: &mut Bytes) -> Vec<u8> {
    let object = match b.below(3) {
        0 => b.raw_u32(),
        _ => c.objects.keys().copied().max().unwrap_or(1),
    };
    let payload: Vec<u8> = (0..4 * b.below(8)).map(|_| b.u8()).collect();
    let wanted = b.u16();
    let interface = c.objects.get(&object).copied();
    let opcode = steer_clear_of_smithay(interface, wanted);
    if opcode != wanted {
        let request = interface.map_or("unknown object".to_string(), |i| {
            format!("{}.{}", i.name, i.requests[usize::from(wanted)].name)
        });
        trace!("  steered: {request}");
        stats::steered(request, &payload);
    }
    let head = (((8 + payload.len()) as u32) << 16) | u32::from(opcode);
    let mut m = object.to_ne_bytes().to_vec();
    m.extend_from_slice(&head.to_ne_bytes());
    m.extend_from_slice(&payload);
    m
}

/// A garbage opcode for a core object that would run a handler the fuzzer
/// leaves alone (`fuzzed_request`; `wl_display`'s stay fair game) becomes
/// an opcode the interface does not have (a protocol error from
/// wayland-backend). Known crashes outside Accord lie there (FUZZING.md):
/// `wl_surface.damage` with a negative size trips smithay 0.7's
/// `debug_assert` in `Size::new` (findings 2 and 7), and `wl_registry.bind`
/// with a null interface name reaches an `unreachable!()` in
/// wayland-backend 0.3.17 (finding 8). Garbage to an object the harness
/// does not know gets an opcode no interface has.
fn steer_clear_of_smithay(interface: Option<&'static Interface>, opcode: u16) -> u16 {
    let Some(interface) = interface else {
        // An object the harness does not know (a random id, or one that an
        // earlier garbage message created, say a `wl_surface`): an opcode
        // no interface has.
        return 0x8000 | opcode;
    };
    match interface.requests.get(usize::from(opcode)) {
        Some(r) if interface.name != "wl_display" && !fuzzed_request(interface, r.name) => {
            interface.requests.len() as u16
        }
        _ => opcode,
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Run one case on `server`; `Err` describes the first broken invariant.
pub fn check(server: &mut Server, data: &[u8]) -> Result<(), String> {
    check_with(server, data, NULL_FOR_NON_NULLABLE)
}

/// [`check`], choosing whether non-nullable strings may be sent null.
pub fn check_with(server: &mut Server, data: &[u8], any_null: bool) -> Result<(), String> {
    // A previous case that failed early may have left clients behind.
    server.dispatch();
    // What a compositor's one-second timer does (`expiry_timer`): without
    // it, handles of killed clients pile up and slow every later case.
    server.state.accord.expire_handles();
    let fds_before = open_fds();
    let disconnects_before = server.disconnects();
    let mut b = Bytes::new(data);
    let mut case = Case {
        server,
        clients: Vec::new(),
        handles: Vec::new(),
    };
    let n = 1 + b.below(MAX_CLIENTS);
    for _ in 0..n {
        case.connect()?;
    }
    let mut connected = n;
    for _ in 0..MAX_OPS {
        if b.is_empty() {
            break;
        }
        let ci = b.below(case.clients.len());
        let op = b.below(32);
        let handles = case.handles.clone();
        let c = &mut case.clients[ci];
        if !c.alive() {
            continue;
        }
        match op {
            0..=15 => {
                if let Some(m) = request(c, &handles, &mut b, any_null) {
                    c.out.extend_from_slice(&m);
                }
            }
            16..=19 => {
                let m = participant(c, &mut b);
                c.out.extend_from_slice(&m);
            }
            20 | 21 => {
                let m = share(c);
                c.out.extend_from_slice(&m);
            }
            22 | 23 => {
                let m = import(c, &handles, &mut b);
                c.out.extend_from_slice(&m);
            }
            24..=28 => {
                trace!("dispatch");
                case.dispatch()?;
            }
            29 => {
                let g = garbage(c, &mut b);
                trace!("{:?} -> garbage {g:02x?}", c.id);
                c.sent_garbage = true;
                c.garbage += 1;
                c.out.extend_from_slice(&g);
            }
            30 => {
                // Abrupt disconnect, maybe in the middle of a message.
                if b.bool() {
                    if let Some(m) = request(c, &handles, &mut b, any_null) {
                        let cut = b.below(m.len().max(1));
                        c.out.extend_from_slice(&m[..cut]);
                    }
                }
                trace!("{:?} disconnects", c.id);
                c.send();
                c.sock = None;
                case.dispatch()?;
            }
            _ => {
                if case.clients.len() < 2 * MAX_CLIENTS {
                    case.connect()?;
                    connected += 1;
                }
            }
        }
    }

    // Liveness: every live client's sync is answered.
    let syncs: Vec<Option<u32>> = case
        .clients
        .iter_mut()
        .map(|c| c.alive().then(|| c.sync()))
        .collect();
    case.dispatch()?;
    for (c, sync) in case.clients.iter().zip(syncs) {
        if let Some(id) = sync {
            if c.alive() && !c.sent_garbage && !c.done.contains(&id) {
                return Err(format!("client {:?}: sync not answered", c.id));
            }
        }
    }

    // A handle outlives its exporter (it is in flight to another client)
    // until it is redeemed or expires (60 s). Redeem them all, so that
    // nothing may remain once everyone has left.
    case.connect()?;
    connected += 1;
    let janitor = case.clients.last_mut().expect("just connected");
    for h in std::mem::take(&mut case.handles) {
        if let Some(&manager) = janitor
            .objects
            .iter()
            .find(|(_, i)| i.name == "wp_buffer_collection_manager_v1")
            .map(|(id, _)| id)
        {
            let token = janitor.new_id(WpBufferCollectionTokenV1::interface());
            let m = Message::new().u32(token).string(&h).finish(
                manager,
                opcode_of(WpBufferCollectionManagerV1::interface(), "import_token"),
            );
            janitor.out.extend_from_slice(&m);
        }
    }
    case.dispatch()?;

    // Everyone leaves; nothing may remain.
    let ids: Vec<(ClientId, usize, usize)> = case
        .clients
        .iter()
        .map(|c| {
            let unseen = c.exports.saturating_sub(c.handles_received);
            (c.id.clone(), unseen, c.garbage)
        })
        .collect();
    case.clients.clear();
    case.server.dispatch();
    if case.server.disconnects() != disconnects_before + connected {
        return Err(format!(
            "{} of {connected} disconnects processed",
            case.server.disconnects() - disconnects_before
        ));
    }
    for (id, unseen_exports, garbage) in &ids {
        let accord = &case.server.state.accord;
        let left = accord.objects_of(id)
            + accord.pending_handles_of(&accord_smithay::ClientIdentity::Connection(id.clone()));
        if left > *unseen_exports {
            // Only a garbage message can have exported these (finding 10).
            stats::GARBAGE_PENDING
                .fetch_add(left - unseen_exports, std::sync::atomic::Ordering::Relaxed);
        }
        let unseen_handles = unseen_exports + garbage;
        if left > unseen_handles {
            return Err(format!(
                "{left} objects/handles left for gone client {id:?} \
                 (at most {unseen_handles} handles it never received may be pending)"
            ));
        }
    }
    // No client is left, so no allocation may be either.
    let charged = case.server.state.accord.total_charged_bytes();
    if charged != 0 {
        return Err(format!(
            "{charged} bytes still charged with every client gone"
        ));
    }
    let fds_after = open_fds();
    if fds_after != fds_before {
        return Err(format!(
            "{fds_before} fds before the case, {fds_after} after"
        ));
    }
    Ok(())
}
