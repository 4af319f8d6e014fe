//! `accord-compositor` without `--renderer`: GLES where EGL comes up (this
//! host: Mesa's software device, llvmpipe), Pixman otherwise, and the log
//! says which and why. EGL is made to fail by pointing libglvnd at no
//! vendor library (`__EGL_VENDOR_LIBRARY_FILENAMES`): the software device is
//! then not found. A renderer asked for by name never falls back.

mod common;

use std::process::{Command, Output};

use common::{TempRuntimeDir, COMPOSITOR_BIN as BIN};

/// libglvnd loads only the vendor libraries this names: none.
const NO_EGL: (&str, &str) = (
    "__EGL_VENDOR_LIBRARY_FILENAMES",
    "/nonexistent/egl_vendor.json",
);

/// One frame, then exit; the log at `info` (where the choice is logged).
fn run_one_frame(tag: &str, args: &[&str], env: &[(&str, &str)]) -> (Output, String) {
    let dir = TempRuntimeDir::new(tag);
    let out = Command::new(BIN)
        .args(["--frames-limit", "1", "--size", "64x64"])
        .args(args)
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run accord-compositor");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, log)
}

/// The `renderer: ...` line of the log.
fn renderer_line(log: &str) -> &str {
    log.lines()
        .find_map(|l| l.split_once("renderer: ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no `renderer:` line in the log:\n{log}"))
}

fn frames_rendered(out: &Output) -> bool {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("accord-compositor: counters frames_rendered=1 "))
}

#[test]
fn default_is_gles_where_egl_comes_up() {
    let (out, log) = run_one_frame("rdef-gles", &[], &[]);
    assert!(out.status.success(), "{out:?}\n{log}");
    let line = renderer_line(&log);
    assert!(
        line.starts_with("gles (EGL on Mesa's software device: llvmpipe"),
        "{line}"
    );
    assert!(frames_rendered(&out), "{out:?}");
}

#[test]
fn default_falls_back_to_pixman_and_says_why() {
    let (out, log) = run_one_frame("rdef-pixman", &[], &[NO_EGL]);
    assert!(out.status.success(), "{out:?}\n{log}");
    let line = renderer_line(&log);
    assert!(
        line.starts_with("pixman (GLES failed: EGL: cannot list devices"),
        "{line}"
    );
    assert!(frames_rendered(&out), "the fallback renders: {out:?}");
}

#[test]
fn a_named_renderer_never_falls_back() {
    let (out, log) = run_one_frame("rdef-named", &["--renderer", "gles"], &[NO_EGL]);
    assert_eq!(out.status.code(), Some(1), "{out:?}\n{log}");
    assert!(
        log.contains("accord-compositor: EGL: cannot list devices"),
        "{log}"
    );
    assert!(!frames_rendered(&out));

    let (out, log) = run_one_frame("rdef-named2", &["--renderer", "pixman"], &[]);
    assert!(out.status.success(), "{out:?}\n{log}");
    assert_eq!(renderer_line(&log), "pixman (asked for with --renderer)");
}
