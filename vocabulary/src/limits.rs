//! The protocol's limits, shared by the compositor (which enforces them) and
//! clients (which can check before sending). Documented in the XML's
//! protocol description.

use std::time::Duration;

/// Participant slots per collection.
pub const MAX_PARTICIPANTS: usize = 64;
/// Participant slots one collection records over its whole life: late
/// participants (`attach_token`) that came and went keep a record, so a
/// long-lived collection accepts this many joins in all.
pub const MAX_SLOT_RECORDS: usize = 4096;
/// Token groups per collection (`create_group`), nested ones included.
pub const MAX_GROUPS: usize = 16;
/// Children per token group (`create_child`).
pub const MAX_GROUP_CHILDREN: usize = 32;
/// Combinations of group children the engine tries for one collection
/// (sysmem's cap): more is `failed(invalid_constraint)`.
pub const MAX_GROUP_COMBINATIONS: usize = 64;
/// Format/modifier pairs per participant (over all `add_formats`).
pub const MAX_FORMAT_PAIRS: usize = 1024;
/// Buffers per collection (sysmem's cap).
pub const MAX_BUFFERS: u32 = 128;
/// Bytes per buffer: 512 MiB.
pub const MAX_BUFFER_BYTES: u64 = 512 << 20;
/// Bytes per collection: 1 GiB.
pub const MAX_COLLECTION_BYTES: u64 = 1 << 30;
/// Default bytes a client may hold in allocated buffers at once (the
/// creator of a collection is charged). Configurable in the compositor.
pub const DEFAULT_CLIENT_QUOTA: u64 = 1 << 30;
/// Live tokens, exported handles and collections per client.
pub const MAX_CLIENT_OBJECTS: usize = 1024;
/// An exported handle not redeemed within this time expires.
pub const HANDLE_EXPIRY: Duration = Duration::from_secs(60);
/// Longest participant name in bytes.
pub const MAX_NAME_BYTES: usize = 63;
/// Per-format limit entries per participant (`add_format_limits`), one
/// per format.
pub const MAX_FORMAT_LIMITS: usize = 64;
/// Devices per participant (`set_devices`).
pub const MAX_DEVICES: usize = 64;
/// Permitted placements per participant (`add_permitted_heap`, sysmem's
/// `permitted_heaps`); each name at most [`MAX_NAME_BYTES`].
pub const MAX_PERMITTED_HEAPS: usize = 16;
/// Random bytes in a handle (256 bits, at least 128 required).
pub const HANDLE_RANDOM_BYTES: usize = 32;
/// Length of a handle string: the random bytes as lowercase hex.
pub const HANDLE_LEN: usize = HANDLE_RANDOM_BYTES * 2;
/// `add_formats` entries per request: a Wayland message is at most 4096
/// bytes.
pub const MAX_FORMAT_PAIRS_PER_REQUEST: usize = 128;
/// Bytes per `add_formats` entry (defined with the codec).
pub use crate::codec::FORMAT_ENTRY_BYTES;
