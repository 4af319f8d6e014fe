//! Why a collection, a token or an import failed: the protocol's
//! `wp_buffer_collection_v1.failure_reason`, numbered as on the wire.

/// The protocol's `failure_reason`. The discriminant is the wire value and
/// [`FailureReason::as_str`] the XML entry's name (the protocol crate's
/// tests hold both to the XML).
///
/// ```
/// use accord_vocabulary::FailureReason;
/// assert_eq!(FailureReason::from_wire(11), Some(FailureReason::QuotaExceeded));
/// assert_eq!(FailureReason::QuotaExceeded.as_str(), "quota_exceeded");
/// assert_eq!(FailureReason::from_wire(99), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum FailureReason {
    /// The participants share no format/modifier pair.
    NoCommonFormat = 0,
    /// The size constraints contradict each other.
    SizeConflict = 1,
    /// The stride constraints contradict each other.
    StrideConflict = 2,
    /// The buffer-count constraints contradict each other.
    CountConflict = 3,
    /// Over the per-buffer or per-collection byte limit, or a `max_bytes`.
    TooLarge = 4,
    /// The combined constraints cannot be allocated.
    InvalidConstraint = 5,
    /// A non-dispensable participant left, failed or let its handle expire.
    ParticipantFailed = 6,
    /// The allocator ran out of memory.
    OutOfMemory = 7,
    /// The allocator cannot make the negotiated buffers.
    Unsupported = 8,
    /// The allocating device disappeared.
    DeviceLost = 9,
    /// An import of an unknown, used or expired handle.
    UnknownHandle = 10,
    /// The creator's memory quota would be exceeded.
    QuotaExceeded = 11,
    /// A token group selected another child: this participant's
    /// alternative is not used (version 2).
    NotSelected = 12,
}

impl FailureReason {
    /// Every reason, in wire order.
    pub const ALL: [FailureReason; 13] = [
        FailureReason::NoCommonFormat,
        FailureReason::SizeConflict,
        FailureReason::StrideConflict,
        FailureReason::CountConflict,
        FailureReason::TooLarge,
        FailureReason::InvalidConstraint,
        FailureReason::ParticipantFailed,
        FailureReason::OutOfMemory,
        FailureReason::Unsupported,
        FailureReason::DeviceLost,
        FailureReason::UnknownHandle,
        FailureReason::QuotaExceeded,
        FailureReason::NotSelected,
    ];

    /// The protocol's (and the JSON scenarios') name for the reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureReason::NoCommonFormat => "no_common_format",
            FailureReason::SizeConflict => "size_conflict",
            FailureReason::StrideConflict => "stride_conflict",
            FailureReason::CountConflict => "count_conflict",
            FailureReason::TooLarge => "too_large",
            FailureReason::InvalidConstraint => "invalid_constraint",
            FailureReason::ParticipantFailed => "participant_failed",
            FailureReason::OutOfMemory => "out_of_memory",
            FailureReason::Unsupported => "unsupported",
            FailureReason::DeviceLost => "device_lost",
            FailureReason::UnknownHandle => "unknown_handle",
            FailureReason::QuotaExceeded => "quota_exceeded",
            FailureReason::NotSelected => "not_selected",
        }
    }

    /// The wire value.
    pub const fn to_wire(self) -> u32 {
        self as u32
    }

    /// The reason with wire value `code`; `None` for a value this version
    /// does not define (a newer peer).
    pub fn from_wire(code: u32) -> Option<Self> {
        Self::ALL.get(usize::try_from(code).ok()?).copied()
    }

    /// The reason named `name` (as in [`FailureReason::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::FailureReason;

    #[test]
    fn all_is_in_wire_order_and_round_trips() {
        for (i, r) in FailureReason::ALL.into_iter().enumerate() {
            assert_eq!(r.to_wire() as usize, i, "{r}");
            assert_eq!(FailureReason::from_wire(r.to_wire()), Some(r));
            assert_eq!(FailureReason::from_name(r.as_str()), Some(r));
        }
        assert_eq!(
            FailureReason::from_wire(FailureReason::ALL.len() as u32),
            None
        );
    }
}
