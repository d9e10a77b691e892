//! Shared by the report crate's integration tests: the sample result, temp files, and external
//! tools (xmllint, chromium) that CI must have.

#![allow(dead_code)]

mod sample;

pub use sample::sample;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "report-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The path of `tool` on PATH. Missing: a failure in CI (`CI` set, `.ci/run` installs it), a
/// skip notice locally.
pub fn require_tool(tool: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{tool}` is required in CI: install the Debian package `{package}` (.ci/run does)"
        );
        eprintln!(
            "SKIPPED: `{tool}` not found; install the Debian package `{package}` to run this test"
        );
    }
    found
}
