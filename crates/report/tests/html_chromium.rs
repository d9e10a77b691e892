//! The HTML report renders in a real browser (headless Chromium): a screenshot is taken and the
//! browser logs no console message at all. The report has no scripts, so any console line would
//! be a Content-Security-Policy violation (something tried to load) or a parse problem.

mod support;

use std::path::Path;
use std::process::Command;
use support::{require_tool, sample, temp_dir};

/// Renders `html` with Chromium; returns the screenshot size and the console lines it logged.
fn render(chromium: &Path, html: &str, name: &str) -> (u64, Vec<String>) {
    let dir = temp_dir(name);
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    let shot = dir.join(format!("{name}.png"));
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,3000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    eprintln!("screenshot: {} ({size} bytes)", shot.display());
    (size, console)
}

#[test]
fn html_report_renders_in_chromium_without_console_messages() {
    let Some(chromium) = require_tool("chromium", "chromium") else {
        return;
    };
    let html = stampede_report::html_report(&sample());
    let (size, console) = render(&chromium, &html, "report");
    assert!(console.is_empty(), "console messages: {console:#?}");
    // A blank 1280×3000 page compresses to a few kB; charts and tables make it far larger.
    assert!(
        size > 100_000,
        "screenshot suspiciously small: {size} bytes"
    );

    // The same check does catch console output and blocked loads.
    let control = html.replacen(
        "</main>",
        "<img src=\"missing.png\" alt=\"\"><script>console.error('x')</script></main>",
        1,
    );
    let (_, console) = render(&chromium, &control, "control");
    assert!(
        console
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "the blocked load was not seen: {console:#?}"
    );
}
