//! Turning fuzzer bytes into values. Every read succeeds (zeros once the
//! input runs out), so any byte string is a valid input and a mutation of a
//! few bytes changes a few fields: libFuzzer's coverage feedback can then
//! steer the values. Edge values (0, 1, MAX, powers of two) are favoured
//! because that is where checked arithmetic matters.

/// A cursor over fuzzer input.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn raw_u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn raw_u64(&mut self) -> u64 {
        u64::from(self.raw_u32()) | (u64::from(self.raw_u32()) << 32)
    }

    /// An index below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    /// One of `items` (non-empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A u32 with edge values favoured; `typical` is a plausible magnitude.
    pub fn u32_edge(&mut self, typical: u32) -> u32 {
        match self.u8() % 10 {
            0 => 0,
            1 => 1,
            2 => u32::MAX,
            3 => u32::MAX - 1,
            4 => 1u32 << (self.u8() % 32),
            5 => self.raw_u32(),
            6 => u32::from(self.u16()),
            _ => u32::from(self.u16()) % typical.max(1),
        }
    }

    /// A u64 with edge values favoured.
    pub fn u64_edge(&mut self, typical: u64) -> u64 {
        match self.u8() % 8 {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => 1u64 << (self.u8() % 64),
            4 => self.raw_u64(),
            _ => self.raw_u64() % typical.max(1),
        }
    }

    /// A limit where 0 means "none": mostly none.
    pub fn limit(&mut self, typical: u32) -> u32 {
        if self.u8() & 3 == 0 {
            self.u32_edge(typical)
        } else {
            0
        }
    }

    /// An alignment: mostly 1 or a power of two, sometimes anything
    /// (including 0, which the engine must reject cleanly).
    pub fn alignment(&mut self) -> u32 {
        match self.u8() % 8 {
            0..=3 => 1,
            4 | 5 => 1 << (self.u8() % 13),
            6 => u32::from(self.u16()),
            _ => self.u32_edge(4096),
        }
    }
}
