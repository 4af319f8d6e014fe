//! Checked arithmetic for sizes and alignments. Every value can come from a
//! client, so nothing here may overflow or divide by zero: `None` means
//! "does not fit in u64" (or a zero alignment).

pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Least common multiple; `None` for a zero operand or an overflow.
pub(crate) fn lcm(a: u64, b: u64) -> Option<u64> {
    if a == 0 || b == 0 {
        return None;
    }
    (a / gcd(a, b)).checked_mul(b)
}

/// `v` rounded up to a multiple of `align`; `None` for `align == 0` or an
/// overflow.
pub(crate) fn round_up(v: u64, align: u64) -> Option<u64> {
    if align == 0 {
        return None;
    }
    match v % align {
        0 => Some(v),
        r => v.checked_add(align - r),
    }
}

/// `v` rounded up to a multiple of `align` in u128, for layouts. The caller
/// rejects a zero `align` first (treated as 1 here) and keeps `v` below
/// 2^127, so nothing overflows.
pub(crate) fn round_up_wide(v: u128, align: u64) -> u128 {
    let align = u128::from(align.max(1));
    v.div_ceil(align) * align
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcm_is_checked() {
        assert_eq!(lcm(4, 6), Some(12));
        assert_eq!(lcm(64, 4096), Some(4096));
        assert_eq!(lcm(0, 6), None);
        assert_eq!(lcm(u64::MAX, u64::MAX - 1), None);
        assert_eq!(lcm(u64::MAX, 1), Some(u64::MAX));
    }

    #[test]
    fn round_up_is_checked() {
        assert_eq!(round_up(0, 64), Some(0));
        assert_eq!(round_up(65, 64), Some(128));
        assert_eq!(round_up(5, 0), None);
        assert_eq!(round_up(u64::MAX, 2), None);
    }

    #[test]
    fn round_up_wide_passes_u64() {
        assert_eq!(round_up_wide(65, 64), 128);
        assert_eq!(round_up_wide(0, 64), 0);
        assert_eq!(round_up_wide(u128::from(u64::MAX), 2), 1 << 64);
        assert_eq!(round_up_wide(5, 0), 5);
    }
}
