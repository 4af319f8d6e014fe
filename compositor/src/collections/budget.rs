//! Budgets: what one client identity (a process, or a sandboxed app) may
//! hold in the compositor at once, and the module's own fd budget for every
//! client together.
//!
//! A client costs the compositor memory (the bytes of its buffers), file
//! descriptors (one per plane of every buffer it holds; a dma-buf buffer
//! counts twice, for the allocator's fds and the one shared set its
//! `wl_buffer`s use), table entries (collections), protocol objects (live
//! tokens and collections, counted in `object_counts.rs`) and pending
//! handles. Each is charged to an identity when taken (the collection's
//! creator for its buffers, the exporter for a handle, the connection's
//! client for a token) and refunded when released, so reconnecting resets
//! nothing. A request that would go over a budget fails with
//! `quota_exceeded` and a message naming the budget; what the identity
//! already holds, and every other client, are untouched.
//!
//! The module-wide fd budget keeps the buffers of all clients together under
//! a share of `RLIMIT_NOFILE` (half of the soft limit when the module is
//! created, see `BufferCollectionState::new`), leaving the rest for accepting
//! clients, their sockets and the embedder: no client action can make the
//! compositor hit EMFILE through this module.

use accord_protocol::limits::DEFAULT_CLIENT_QUOTA;

use super::outcome::{Failed, FailureReason};

/// Buffer fds one identity may make the compositor hold: room for 8 full
/// 64-buffer dma-buf collections, far beyond a desktop client's triple
/// buffering and a video pipeline's few dozen buffers.
pub const DEFAULT_BUFFER_FDS_PER_CLIENT: u64 = 1024;
/// Live collections one identity may have created.
pub const DEFAULT_COLLECTIONS_PER_CLIENT: usize = 256;
/// Pending exported handles one identity may hold (its connections
/// together, closed ones included).
pub const DEFAULT_PENDING_HANDLES_PER_CLIENT: usize = 256;
/// Live tokens and collections one identity may hold over all its
/// connections: four connections' worth of
/// [`MAX_CLIENT_OBJECTS`](accord_protocol::limits::MAX_CLIENT_OBJECTS),
/// where a desktop client holds a few per surface or stream.
pub const DEFAULT_TOKENS_PER_CLIENT: usize = 4096;
/// The module's buffer fds, all clients together, when no limit is known:
/// half of a common 8,192 soft `RLIMIT_NOFILE`.
pub const DEFAULT_MAX_BUFFER_FDS: u64 = 4096;

/// What one identity may hold at once (settable by the embedder with
/// `BufferCollectionState::set_client_budgets`).
///
/// ```
/// use accord_smithay::collections::Budgets;
/// let b = Budgets { buffer_fds: 64, ..Budgets::default() };
/// assert_eq!(b.bytes, 1 << 30);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    /// Bytes of allocated buffers (the quota).
    pub bytes: u64,
    /// File descriptors of allocated buffers the compositor holds.
    pub buffer_fds: u64,
    /// Collections created and not yet closed.
    pub collections: usize,
    /// Exported handles not yet redeemed or expired.
    pub pending_handles: usize,
    /// Live tokens and collections (the protocol objects that hold a
    /// participant slot) of every connection together.
    pub tokens: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            bytes: DEFAULT_CLIENT_QUOTA,
            buffer_fds: DEFAULT_BUFFER_FDS_PER_CLIENT,
            collections: DEFAULT_COLLECTIONS_PER_CLIENT,
            pending_handles: DEFAULT_PENDING_HANDLES_PER_CLIENT,
            tokens: DEFAULT_TOKENS_PER_CLIENT,
        }
    }
}

/// What an allocation holds: bytes and fds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of buffer memory.
    pub bytes: u64,
    /// Buffer fds the compositor holds.
    pub fds: u64,
}

impl Usage {
    pub(crate) fn plus(self, other: Usage) -> Usage {
        Usage {
            bytes: self.bytes.saturating_add(other.bytes),
            fds: self.fds.saturating_add(other.fds),
        }
    }

    pub(crate) fn minus(self, other: Usage) -> Usage {
        Usage {
            bytes: self.bytes.saturating_sub(other.bytes),
            fds: self.fds.saturating_sub(other.fds),
        }
    }
}

/// `Err(quota_exceeded)` naming `budget` when `used + need > limit`.
pub(crate) fn within(
    budget: &str,
    unit: &str,
    holder: &dyn std::fmt::Display,
    used: u64,
    need: u64,
    limit: u64,
) -> Result<(), Failed> {
    match used.checked_add(need) {
        Some(t) if t <= limit => Ok(()),
        _ => Err(Failed::new(
            FailureReason::QuotaExceeded,
            format!(
                "{budget}: this needs {need} {unit}; {holder} already holds {used} \
                 of its {limit}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_exceeded_only_past_its_limit() {
        assert!(within("buffer fd budget", "fds", &"pid 1", 1000, 24, 1024).is_ok());
        let f = within("buffer fd budget", "fds", &"pid 1", 1000, 25, 1024).unwrap_err();
        assert_eq!(f.reason, FailureReason::QuotaExceeded);
        assert_eq!(
            f.message,
            "buffer fd budget: this needs 25 fds; pid 1 already holds 1000 of its 1024"
        );
        assert!(
            within("b", "u", &"x", u64::MAX, 1, u64::MAX).is_err(),
            "no overflow"
        );
    }
}
