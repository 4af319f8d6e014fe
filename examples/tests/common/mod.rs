//! Helpers shared by the reference-compositor tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStdout, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use accord_examples::refcomp::{Config, RendererKind};
use accord_fd_census::FdCensus;
use accord_tests::waiting::within;
use rustix::process::{kill_process, Pid, Signal};

pub mod artifacts;
pub mod budget;
pub mod client;
pub mod shm_as_foreign;

/// The renderer these tests run the compositor with: `ACCORD_TEST_RENDERER`
/// (`pixman`, the default, or `gles`); `scripts/test` runs the
/// reference-compositor tests once with each.
pub fn renderer() -> RendererKind {
    match std::env::var("ACCORD_TEST_RENDERER") {
        Ok(name) => name
            .parse()
            .unwrap_or_else(|e| panic!("ACCORD_TEST_RENDERER: {e}")),
        Err(_) => RendererKind::Pixman,
    }
}

/// `accord-compositor`'s flag for [`renderer`].
pub fn renderer_args() -> [&'static str; 2] {
    ["--renderer", renderer().name()]
}

/// The in-process compositor's defaults, with [`renderer`].
pub fn config() -> Config {
    Config {
        renderer: renderer(),
        ..Config::default()
    }
}

/// Checks `bytes_copied` after showing client CPU buffers (shm or memfd)
/// and reading `readback` bytes back: Pixman composes them in place, so the
/// read-backs are the only copies; GLES uploads each into a texture, so
/// there is more (at least one upload of `min_upload` bytes).
pub fn assert_copied(bytes_copied: u64, readback: u64, min_upload: u64, what: &str) {
    match renderer() {
        RendererKind::Pixman => assert_eq!(bytes_copied, readback, "{what}"),
        RendererKind::Gles => assert!(
            bytes_copied >= readback + min_upload,
            "GLES uploads client buffers: {bytes_copied} bytes copied, expected at least \
             {readback} read back + {min_upload} uploaded: {what}"
        ),
    }
}

/// A fresh `XDG_RUNTIME_DIR` (mode 0700), removed on drop.
pub struct TempRuntimeDir(PathBuf);

impl TempRuntimeDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "accord-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create temp runtime dir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .expect("chmod temp runtime dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempRuntimeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The release- or debug-built `accord-compositor` of this test run.
pub const COMPOSITOR_BIN: &str = env!("CARGO_BIN_EXE_accord-compositor");

/// Starts `accord-compositor` in `dir` and reads its `listening on` line:
/// the child, the rest of its stdout and the socket name.
pub fn start_compositor(
    dir: &TempRuntimeDir,
    args: &[&str],
) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = Command::new(COMPOSITOR_BIN)
        .args(renderer_args())
        .args(args)
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start accord-compositor");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read first line");
    let name = line
        .trim()
        .strip_prefix("accord-compositor: listening on WAYLAND_DISPLAY=")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, stdout, name)
}

/// The fd census of a process we started (`accord-compositor`).
pub fn fd_census(child: &Child) -> FdCensus {
    FdCensus::of(child.id()).expect("fd census of the compositor process")
}

/// Waits (up to 5 s) for `child`'s fd census to be back at `baseline`, kind
/// by kind; panics naming what differs. Returns the census reached.
pub fn assert_fds_back(child: &Child, baseline: &FdCensus, what: &str) -> FdCensus {
    accord_fd_census::assert_back_to(child.id(), baseline, what)
}

/// Sends `signal` to a child process we started.
pub fn signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(child.id() as i32).expect("child pid is positive");
    kill_process(pid, signal).expect("signal child");
}

/// Waits up to `timeout` for `child` to exit; kills it and panics otherwise.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    match within(timeout, || child.try_wait().expect("try_wait")) {
        Ok(status) => status,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} did not exit: {e}", child.id());
        }
    }
}

/// `|a - b| <= 1` per channel: Pixman's float-to-8-bit clear may round.
pub fn near(a: [u8; 4], b: [u8; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 1)
}

/// The soft and hard "Max open files" of `pid`.
pub fn nofile(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (v[0], v[1])
}
