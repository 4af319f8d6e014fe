//! Code shared by the two-process demo (`accord-demo`, `accord-demo-producer`,
//! `accord-demo-consumer`) and its tests: the frame pattern, the
//! producer↔consumer channel and the `key=value` result lines.

pub mod channel;
pub mod pattern;
pub mod results;
pub mod window;

/// The `main` of each demo program: its arguments parsed by `clap` (a bad
/// one exits 2 with the usage, `--help` exits 0); `run` returning
/// `Ok(false)` or an error exits 1.
pub fn program<A: clap::Parser>(
    name: &str,
    run: impl FnOnce(A) -> Result<bool, window::Error>,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    match run(A::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

pub use accord_client::{DRM_FORMAT_ARGB8888 as ARGB8888, DRM_FORMAT_XRGB8888 as XRGB8888};

/// A DRM fourcc as its four characters, e.g. `XR24`.
pub fn fourcc_name(format: u32) -> String {
    format
        .to_le_bytes()
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// A DRM modifier's name where it is one we know.
pub fn modifier_name(modifier: u64) -> &'static str {
    match modifier {
        0 => "LINEAR",
        0x00ff_ffff_ffff_ffff => "INVALID (implicit)",
        _ => "vendor",
    }
}
