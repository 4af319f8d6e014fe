//! Code shared by the two-process demo (`accord-demo`, `accord-demo-producer`,
//! `accord-demo-consumer`) and its tests: the frame pattern, the
//! producer↔consumer channel and the `key=value` result lines.

pub mod channel;
pub mod pattern;
pub mod results;
pub mod window;

/// The `main` of each demo program: `parse` gives `Ok(None)` for `--help`
/// (usage printed, exit 0); a parse error exits 2 with the usage; `run`
/// returning `Ok(false)` or an error exits 1.
pub fn program<A>(
    name: &str,
    usage: &str,
    parse: impl FnOnce() -> Result<Option<A>, String>,
    run: impl FnOnce(A) -> Result<bool, window::Error>,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let args = match parse() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{name}: {e}\n\n{usage}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
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
