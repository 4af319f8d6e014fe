//! The wire's packed arguments, encoded and decoded in one place for both
//! sides: the 16-byte `add_formats` entries, the `set_devices` list and the
//! (hi, lo) halves of 64-bit values. Limits on counts are the caller's
//! (its error message names the request); these functions only refuse
//! arrays whose length cannot be a whole number of entries.

use crate::FormatModifier;

/// Bytes per `add_formats` entry: u32 format, u32 flags, u64 modifier, in
/// host byte order (Wayland arrays are host order).
pub const FORMAT_ENTRY_BYTES: usize = 16;
/// Bytes per `set_devices` entry: a `dev_t` as u64, host byte order.
pub const DEVICE_ENTRY_BYTES: usize = 8;
/// `format_flags.scanout` in an entry's flags word.
pub const FORMAT_FLAG_SCANOUT: u32 = 0x1;

/// An array whose length is not a whole number of entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaggedArray {
    /// The array's length in bytes.
    pub len: usize,
    /// The entry size it should be a multiple of.
    pub entry: usize,
}

impl std::fmt::Display for RaggedArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "array of {} bytes, not a multiple of {} bytes",
            self.len, self.entry
        )
    }
}

impl std::error::Error for RaggedArray {}

fn check_whole(bytes: &[u8], entry: usize) -> Result<usize, RaggedArray> {
    if !bytes.len().is_multiple_of(entry) {
        return Err(RaggedArray {
            len: bytes.len(),
            entry,
        });
    }
    Ok(bytes.len() / entry)
}

/// Encode `add_formats` entries.
///
/// ```
/// use accord_vocabulary::{codec, FormatModifier, MOD_LINEAR};
/// let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: true };
/// let table = codec::encode_format_table([pair]);
/// assert_eq!(table.len(), codec::FORMAT_ENTRY_BYTES);
/// assert_eq!(codec::decode_format_table(&table).unwrap().collect::<Vec<_>>(), vec![pair]);
/// ```
pub fn encode_format_table(entries: impl IntoIterator<Item = FormatModifier>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let flags = if e.scanout { FORMAT_FLAG_SCANOUT } else { 0 };
        out.extend_from_slice(&e.format.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&e.modifier.to_ne_bytes());
    }
    out
}

/// Decode `add_formats` entries; unknown flag bits are ignored (a newer
/// client's hints).
pub fn decode_format_table(
    bytes: &[u8],
) -> Result<impl ExactSizeIterator<Item = FormatModifier> + '_, RaggedArray> {
    check_whole(bytes, FORMAT_ENTRY_BYTES)?;
    Ok(bytes.chunks_exact(FORMAT_ENTRY_BYTES).map(|e| {
        let (format, rest) = e.split_at(4);
        let (flags, modifier) = rest.split_at(4);
        FormatModifier {
            format: u32::from_ne_bytes(format.try_into().unwrap_or_default()),
            scanout: u32::from_ne_bytes(flags.try_into().unwrap_or_default()) & FORMAT_FLAG_SCANOUT
                != 0,
            modifier: u64::from_ne_bytes(modifier.try_into().unwrap_or_default()),
        }
    }))
}

/// Number of entries in an `add_formats` array, or why it has none.
pub fn format_entries(bytes: &[u8]) -> Result<usize, RaggedArray> {
    check_whole(bytes, FORMAT_ENTRY_BYTES)
}

/// Encode a `set_devices` list.
///
/// ```
/// use accord_vocabulary::codec;
/// let bytes = codec::encode_devices(&[0xe280, 0xe281]);
/// assert_eq!(codec::decode_devices(&bytes), Ok(vec![0xe280, 0xe281]));
/// assert!(codec::decode_devices(&bytes[..5]).is_err());
/// ```
pub fn encode_devices(devices: &[u64]) -> Vec<u8> {
    devices.iter().flat_map(|d| d.to_ne_bytes()).collect()
}

/// Decode a `set_devices` list.
pub fn decode_devices(bytes: &[u8]) -> Result<Vec<u64>, RaggedArray> {
    check_whole(bytes, DEVICE_ENTRY_BYTES)?;
    Ok(bytes
        .chunks_exact(DEVICE_ENTRY_BYTES)
        .map(|e| u64::from_ne_bytes(e.try_into().unwrap_or_default()))
        .collect())
}

/// Split a 64-bit value into the (hi, lo) argument pair the protocol uses.
///
/// ```
/// use accord_vocabulary::codec::{join_u64, split_u64};
/// assert_eq!(split_u64(0x1_0000_0002), (1, 2));
/// assert_eq!(join_u64(1, 2), 0x1_0000_0002);
/// ```
pub const fn split_u64(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

/// Join a (hi, lo) argument pair.
pub const fn join_u64(hi: u32, lo: u32) -> u64 {
    ((hi as u64) << 32) | lo as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_table_round_trips_and_refuses_ragged_arrays() {
        let pairs = [
            FormatModifier {
                format: 1,
                modifier: u64::MAX - 1,
                scanout: false,
            },
            FormatModifier {
                format: u32::MAX,
                modifier: 0,
                scanout: true,
            },
        ];
        let table = encode_format_table(pairs);
        assert_eq!(table.len(), 2 * FORMAT_ENTRY_BYTES);
        let back: Vec<_> = decode_format_table(&table).unwrap().collect();
        assert_eq!(back, pairs);
        assert_eq!(
            decode_format_table(&table[..17]).err(),
            Some(RaggedArray { len: 17, entry: 16 })
        );
    }

    #[test]
    fn unknown_flag_bits_are_ignored() {
        let mut table = encode_format_table([FormatModifier {
            format: 7,
            modifier: 9,
            scanout: false,
        }]);
        table[4..8].copy_from_slice(&0xfeu32.to_ne_bytes());
        let back: Vec<_> = decode_format_table(&table).unwrap().collect();
        assert!(!back[0].scanout);
    }
}
