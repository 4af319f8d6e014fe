//! Programs the tests run that cargo does not hand them by path: the
//! examples, and the C client built with make.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The built example `name` (`target/<profile>/examples/<name>`). `cargo
/// test` builds examples before it runs the tests; a test run that skipped
/// them (`--test X`) builds it here.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let release = profile_dir.file_name().is_some_and(|p| p == "release");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "accord-examples", "--example", name]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build --example");
        assert!(status.success(), "cargo build --example {name}: {status}");
    }
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Builds `examples/c-client` with its Makefile (cc, pkg-config
/// wayland-client, wayland-scanner) into `out`; returns the binary.
pub fn build_c_client(out: &Path) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("c-client");
    let output = Command::new("make")
        .arg("-C")
        .arg(&dir)
        .arg(format!("OUT={}", out.display()))
        .output()
        .expect("run make (Debian: make, gcc, libwayland-dev, libwayland-bin, wayland-protocols)");
    assert!(
        output.status.success(),
        "building the C client failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    out.join("accord-c-client")
}

/// A child process killed and reaped when the test ends, pass or panic.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
