//! Distributed runs, wired into the binary: the engine-backed agent runner ([`runner`]), the
//! controller's run manager and ports ([`manager`], [`api`]), the submitting side ([`client`]),
//! the split of a plan into agent shares ([`share`]), and the files shipped with a run
//! ([`bundle`]).

pub mod api;
pub mod bundle;
pub mod client;
pub mod cluster;
pub mod loss;
pub mod manager;
pub mod own_load;
pub mod pool;
pub mod run_task;
pub mod runner;
pub mod share;
pub mod tls;

use anyhow::Context;
use std::path::Path;

/// The first token of a token file (the format of `stampede_controller::auth`: one per line,
/// `#` comments), for the sides that present a token.
pub fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "{}: no token in the file (one token per line)",
                path.display()
            )
        })
}
