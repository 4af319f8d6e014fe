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
