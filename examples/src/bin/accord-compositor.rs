//! The reference compositor as a process. See `--help`.

use std::{path::PathBuf, process::ExitCode};

use accord_examples::refcomp::{Compositor, Config, DrmOptions, Error, ScreenshotRequest};
use smithay::reexports::calloop::signals::{Signal, Signals};

const USAGE: &str = "\
usage: accord-compositor [options]

A Wayland compositor (Smithay, Pixman, one output): headless (1280x720) by
default, or on a KMS device with --drm, where a fullscreen client's dma-buf
goes on the primary plane as it is (direct scanout).
It prints `accord-compositor: listening on WAYLAND_DISPLAY=<name>` once clients
can connect, and `accord-compositor: counters frames_rendered=.. surface_commits=..
bytes_copied=.. foreign_frames_shown=.. frames_direct=.. frames_direct_opaque=..
frames_composited=.. bytes_composited=..` when it exits (SIGINT, SIGTERM, or a limit below).
It serves the Accord global (wp_buffer_collection_manager_v1; memfd
allocator headless, dumb buffers on the card with --drm).

options:
  --drm /dev/dri/cardN      run on this KMS device (as root; first connected
                            connector, preferred mode; --size is ignored)
  --no-direct-scanout       with --drm: compose every frame
  --socket NAME             socket name in $XDG_RUNTIME_DIR (default: first free wayland-N)
  --size WxH                output size (default 1280x720)
  --screenshot FILE.png     write the output as PNG after --frames frames
  --frames N                frames to render before the screenshot (default 1)
  --exit-after-screenshot   stop once the screenshot is written
  --frames-limit N          stop after N rendered frames
  -h, --help                this text

RUST_LOG sets the log filter (default: info).";

fn main() -> ExitCode {
    accord_examples::logging::init("info");
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("accord-compositor: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("accord-compositor: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run((config, drm): (Config, Option<DrmOptions>)) -> Result<(), Error> {
    let compositor = match &drm {
        Some(options) => Compositor::drm(config, options)?,
        None => Compositor::headless(config)?,
    };
    let signals = Signals::new(&[Signal::SIGINT, Signal::SIGTERM])?;
    compositor
        .loop_handle()
        .insert_source(signals, |event, _, state| {
            tracing::info!(signal = ?event.signal(), "stopping");
            state.loop_signal.stop();
        })
        .map_err(|e| e.error)?;
    println!(
        "accord-compositor: listening on WAYLAND_DISPLAY={}",
        compositor.socket_name()
    );
    let counters = compositor.run()?;
    println!("accord-compositor: counters {counters}");
    Ok(())
}

/// `Ok(None)` means `--help`.
fn parse_args(
    mut args: impl Iterator<Item = String>,
) -> Result<Option<(Config, Option<DrmOptions>)>, Error> {
    let mut config = Config::default();
    let mut drm: Option<DrmOptions> = None;
    let mut direct_scanout = true;
    let mut screenshot: Option<PathBuf> = None;
    let mut frames = 1u64;
    let mut exit_after = false;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--socket" => config.socket_name = Some(value("--socket")?),
            "--drm" => drm = Some(DrmOptions::new(value("--drm")?)),
            "--no-direct-scanout" => direct_scanout = false,
            "--size" => {
                let v = value("--size")?;
                let (w, h) = v
                    .split_once('x')
                    .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                    .ok_or(format!("--size {v:?}: expected WxH, e.g. 1280x720"))?;
                (config.width, config.height) = (w, h);
            }
            "--screenshot" => screenshot = Some(value("--screenshot")?.into()),
            "--frames" => frames = parse_count("--frames", &value("--frames")?)?,
            "--exit-after-screenshot" => exit_after = true,
            "--frames-limit" => {
                config.frames_limit =
                    Some(parse_count("--frames-limit", &value("--frames-limit")?)?)
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if exit_after && screenshot.is_none() {
        return Err("--exit-after-screenshot needs --screenshot FILE".into());
    }
    if !direct_scanout {
        match &mut drm {
            Some(options) => options.direct_scanout = false,
            None => return Err("--no-direct-scanout needs --drm DEVICE".into()),
        }
    }
    config.screenshot = screenshot.map(|path| ScreenshotRequest {
        path,
        after_frames: frames,
        exit_after,
    });
    Ok(Some((config, drm)))
}

fn parse_count(flag: &str, v: &str) -> Result<u64, Error> {
    match v.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{flag} {v:?}: expected a whole number >= 1").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Config>, Error> {
        parse_args(args.iter().map(|a| a.to_string())).map(|c| c.map(|(config, _)| config))
    }

    #[test]
    fn drm_flags() {
        let args = ["--drm", "/dev/dri/card0", "--no-direct-scanout"];
        let (_, drm) = parse_args(args.iter().map(|a| a.to_string()))
            .expect("valid")
            .expect("not --help");
        let drm = drm.expect("--drm");
        assert_eq!(drm.path, PathBuf::from("/dev/dri/card0"));
        assert!(!drm.direct_scanout);
        let (_, none) = parse_args(std::iter::empty())
            .expect("valid")
            .expect("config");
        assert!(none.is_none(), "headless by default");
    }

    #[test]
    fn flags_fill_the_config() {
        let config = parse(&[
            "--socket",
            "s",
            "--size",
            "640x480",
            "--screenshot",
            "a.png",
            "--frames",
            "9",
            "--exit-after-screenshot",
            "--frames-limit",
            "20",
        ])
        .expect("valid")
        .expect("not --help");
        assert_eq!(config.socket_name.as_deref(), Some("s"));
        assert_eq!((config.width, config.height), (640, 480));
        assert_eq!(config.frames_limit, Some(20));
        let shot = config.screenshot.expect("screenshot");
        assert_eq!(shot.path, PathBuf::from("a.png"));
        assert_eq!((shot.after_frames, shot.exit_after), (9, true));
        assert!(parse(&["--help"]).expect("valid").is_none());
    }

    #[test]
    fn bad_flags_are_errors() {
        for args in [
            &["--size", "640"][..],
            &["--size", "ax480"],
            &["--frames", "-1"],
            &["--frames-limit", "0"],
            &["--socket"],
            &["--exit-after-screenshot"],
            &["--no-direct-scanout"],
            &["--drm"],
            &["--nope"],
        ] {
            assert!(parse(args).is_err(), "{args:?} accepted");
        }
    }
}
