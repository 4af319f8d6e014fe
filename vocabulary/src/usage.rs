//! Usage bits: how a participant uses the buffers (the protocol's
//! `usage` bitfield). Combined by OR across participants.

/// Usage bits. Combined by OR across participants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Usage(pub u32);

impl Usage {
    pub const CPU_READ: Usage = Usage(1 << 0);
    pub const CPU_WRITE: Usage = Usage(1 << 1);
    pub const RENDER: Usage = Usage(1 << 2);
    pub const SAMPLE: Usage = Usage(1 << 3);
    pub const SCANOUT: Usage = Usage(1 << 4);
    pub const CURSOR: Usage = Usage(1 << 5);
    pub const VIDEO_DECODE: Usage = Usage(1 << 6);
    pub const VIDEO_ENCODE: Usage = Usage(1 << 7);
    pub const CAPTURE: Usage = Usage(1 << 8);
    pub const PROTECTED: Usage = Usage(1 << 9);
    /// Every defined bit.
    pub const ALL: Usage = Usage((1 << 10) - 1);
    /// Names in bit order, as used by the JSON scenarios and the protocol docs.
    pub const NAMES: [(&'static str, Usage); 10] = [
        ("cpu_read", Usage::CPU_READ),
        ("cpu_write", Usage::CPU_WRITE),
        ("render", Usage::RENDER),
        ("sample", Usage::SAMPLE),
        ("scanout", Usage::SCANOUT),
        ("cursor", Usage::CURSOR),
        ("video_decode", Usage::VIDEO_DECODE),
        ("video_encode", Usage::VIDEO_ENCODE),
        ("capture", Usage::CAPTURE),
        ("protected", Usage::PROTECTED),
    ];

    pub const fn empty() -> Usage {
        Usage(0)
    }
    pub const fn contains(self, other: Usage) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn intersects(self, other: Usage) -> bool {
        self.0 & other.0 != 0
    }
    /// The names of the set bits, in bit order (undefined bits are skipped).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Usage::NAMES
            .into_iter()
            .filter(move |(_, u)| self.contains(*u))
            .map(|(n, _)| n)
    }
    /// The bit named `name` (as in [`Usage::NAMES`]).
    pub fn from_name(name: &str) -> Option<Usage> {
        Usage::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, u)| *u)
    }
}

impl std::ops::BitOr for Usage {
    type Output = Usage;
    fn bitor(self, rhs: Usage) -> Usage {
        Usage(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Usage {
    fn bitor_assign(&mut self, rhs: Usage) {
        self.0 |= rhs.0;
    }
}
