//! Parser for the `IN_FORMATS` plane property blob
//! (`struct drm_format_modifier_blob`, include/uapi/drm/drm_mode.h). The blob
//! comes from the kernel, but it is still bounds-checked: a short or
//! inconsistent blob yields an error instead of a panic.

/// `(format, modifiers)` per format, in the blob's order.
pub fn parse_in_formats(blob: &[u8]) -> Result<Vec<(u32, Vec<u64>)>, String> {
    let u32_at = |off: usize| -> Result<u32, String> {
        blob.get(off..off + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("IN_FORMATS blob too short at {off}"))
    };
    let u64_at = |off: usize| -> Result<u64, String> {
        Ok(u64::from(u32_at(off)?) | (u64::from(u32_at(off + 4)?) << 32))
    };
    if u32_at(0)? != 1 {
        return Err(format!("IN_FORMATS blob version {} unknown", u32_at(0)?));
    }
    let count_formats = u32_at(8)? as usize;
    let formats_offset = u32_at(12)? as usize;
    let count_modifiers = u32_at(16)? as usize;
    let modifiers_offset = u32_at(20)? as usize;
    let mut out = Vec::with_capacity(count_formats.min(blob.len() / 4));
    for i in 0..count_formats {
        out.push((u32_at(formats_offset + 4 * i)?, Vec::new()));
    }
    // struct drm_format_modifier { u64 formats; u32 offset; u32 pad; u64 modifier; }
    for m in 0..count_modifiers {
        let base = modifiers_offset + 24 * m;
        let mask = u64_at(base)?;
        let offset = u32_at(base + 8)? as usize;
        let modifier = u64_at(base + 16)?;
        for bit in 0..64 {
            if mask & (1 << bit) != 0 {
                let entry = out
                    .get_mut(offset + bit)
                    .ok_or_else(|| format!("IN_FORMATS modifier {modifier:#x} names format index {} of {count_formats}", offset + bit))?;
                entry.1.push(modifier);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(formats: &[u32], mods: &[(u64, u32, u64)]) -> Vec<u8> {
        let formats_offset = 24u32;
        let modifiers_offset = formats_offset + 4 * formats.len() as u32;
        let mut b = Vec::new();
        for v in [
            1,
            0,
            formats.len() as u32,
            formats_offset,
            mods.len() as u32,
            modifiers_offset,
        ] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        for f in formats {
            b.extend_from_slice(&f.to_ne_bytes());
        }
        for (mask, offset, modifier) in mods {
            b.extend_from_slice(&mask.to_ne_bytes());
            b.extend_from_slice(&offset.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&modifier.to_ne_bytes());
        }
        b
    }

    #[test]
    fn formats_get_their_modifiers() {
        let b = blob(&[10, 20, 30], &[(0b101, 0, 0), (0b010, 0, 7)]);
        let parsed = parse_in_formats(&b).unwrap();
        assert_eq!(parsed, vec![(10, vec![0]), (20, vec![7]), (30, vec![0])]);
    }

    #[test]
    fn truncated_or_inconsistent_blobs_are_errors() {
        let b = blob(&[10], &[(0b11, 0, 0)]);
        assert!(parse_in_formats(&b).unwrap_err().contains("format index 1"));
        assert!(parse_in_formats(&b[..b.len() - 1]).is_err());
        assert!(parse_in_formats(&[]).is_err());
    }
}
