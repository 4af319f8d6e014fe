//! Shared helpers for the engine's tests.
#![allow(dead_code)]

use accord_engine::formats::parse_name;
use accord_engine::{Constraints, FormatModifier};

pub fn fourcc(name: &str) -> u32 {
    parse_name(name).expect("known format")
}

/// A participant named `name` accepting `pairs` (format name, modifier,
/// scanout) in that order.
pub fn participant(name: &str, pairs: &[(&str, u64, bool)]) -> Constraints {
    Constraints {
        name: name.into(),
        formats: pairs
            .iter()
            .map(|&(f, modifier, scanout)| FormatModifier {
                format: fourcc(f),
                modifier,
                scanout,
            })
            .collect(),
        ..Default::default()
    }
}
