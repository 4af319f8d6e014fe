//! Logging setup shared by the example programs.

/// Log to stderr, filtered by `RUST_LOG`, else by `default_filter`.
pub fn init(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// [`init`], unless a logger is already set (a test binary that runs
/// several tests in one process); whether this call set it.
pub fn try_init(default_filter: &str) -> bool {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .try_init()
        .is_ok()
}
