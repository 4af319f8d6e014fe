//! A tiny test harness: prints `test NAME ... ok | FAILED: why | not
//! available here: why` lines that `tests/vm/run` counts.

pub enum Outcome {
    Passed,
    /// The device or kernel feature is absent. Never counted as passed.
    NotAvailable(String),
}

pub type TestResult = Result<Outcome, String>;

pub type Test = (&'static str, fn() -> TestResult);

/// Run every test (a panic is a failure); returns the number of failures.
pub fn run(tests: &[Test]) -> usize {
    let mut failed = 0;
    for (name, f) in tests {
        let result = std::panic::catch_unwind(f).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Err(format!("panicked: {msg}"))
        });
        match result {
            Ok(Outcome::Passed) => println!("test {name} ... ok"),
            Ok(Outcome::NotAvailable(why)) => println!("test {name} ... not available here: {why}"),
            Err(why) => {
                failed += 1;
                println!("test {name} ... FAILED: {why}");
            }
        }
    }
    failed
}

/// `ensure!(cond, "fmt", args)`: fail the test with a message.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// A machine shape a test needs instead of the tier's default, in
/// `tests/vm/run`'s own flags: such a test boots a VM of its own.
pub struct Machine {
    /// The virtio-gpu device's options (`--gpu`), replacing the tier's
    /// `xres=1280,yres=720`.
    pub gpu: Option<&'static str>,
    /// More `-device` options (`--qemu-device`).
    pub qemu_devices: &'static [&'static str],
    /// Kernel command-line arguments added to the tier's (`--kernel-arg`).
    pub kernel_args: &'static [&'static str],
}

impl Machine {
    /// The runner's flags for this machine, one word each (no word holds
    /// whitespace: the runner splits on it).
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(gpu) = self.gpu {
            out.extend(["--gpu".to_owned(), gpu.to_owned()]);
        }
        for d in self.qemu_devices {
            out.extend(["--qemu-device".to_owned(), (*d).to_owned()]);
        }
        for a in self.kernel_args {
            out.extend(["--kernel-arg".to_owned(), (*a).to_owned()]);
        }
        assert!(
            out.iter()
                .all(|w| !w.is_empty() && !w.contains(char::is_whitespace)),
            "a machine flag holds whitespace: {out:?}"
        );
        out
    }
}

/// A test that runs on a machine of its own shape.
pub type MachineTest = (&'static str, Machine, fn() -> TestResult);
