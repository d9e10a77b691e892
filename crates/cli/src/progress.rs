//! The live progress line: elapsed/total, active users, requests/s, p95 and error count.
//!
//! On a terminal it is one line redrawn in place (indicatif); otherwise (CI logs) a plain line is
//! printed every few seconds so logs stay readable.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stampede_metrics::LiveStats;
use std::io::IsTerminal;
use std::time::Duration;

/// Seconds between plain lines when stderr is not a terminal.
const PLAIN_EVERY_S: u32 = 5;

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    planned: Duration,
}

impl Progress {
    pub fn new(enabled: bool, planned: Duration) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (enabled && tty).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(planned.as_secs().max(1)),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template("{bar:20.cyan/blue} {msg}")
                    .expect("static template is valid")
                    .progress_chars("█▉▊▋▌▍▎▏ "),
            );
            bar
        });
        Progress {
            bar,
            plain: enabled && !tty,
            planned,
        }
    }

    pub fn update(&mut self, live: &LiveStats) {
        let line = format_line(live, self.planned);
        if let Some(bar) = &self.bar {
            bar.set_position(live.seconds as u64);
            bar.set_message(line);
        } else if self.plain && live.seconds.is_multiple_of(PLAIN_EVERY_S) {
            eprintln!("{line}");
        }
    }

    /// Prints a message above the progress line.
    pub fn println(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn clock(s: u64) -> String {
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// `[00:12/00:30] users 50 | 412.0 req/s | p95 23.1 ms | failures 3 | errors 0`
pub fn format_line(live: &LiveStats, planned: Duration) -> String {
    let p95 = live
        .p95_ms
        .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms"));
    format!(
        "[{}/{}] users {} | {:.1} req/s | p95 {p95} | requests {} | failures {} | errors {}",
        clock(live.seconds as u64),
        clock(planned.as_secs()),
        live.users,
        live.rps,
        live.requests,
        live.failures,
        live.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_every_live_figure() {
        let live = LiveStats {
            seconds: 12,
            users: 50,
            requests: 4000,
            failures: 3,
            errors: 1,
            rps: 412.0,
            p95_ms: Some(23.14),
        };
        assert_eq!(
            format_line(&live, Duration::from_secs(90)),
            "[00:12/01:30] users 50 | 412.0 req/s | p95 23.1 ms | requests 4000 | failures 3 | errors 1"
        );
    }
}
