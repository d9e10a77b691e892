//! `stampede`: describe how your users behave, generate that load, and learn whether the system held.

mod aggregate;
mod args;
mod cmd;
mod dist;
mod exit;
mod local;
mod progress;
mod thresholds;

use clap::Parser;

/// Keeps this process's memory in 4 KiB pages.
///
/// mimalloc asks for transparent huge pages on its arenas (`madvise(MADV_HUGEPAGE)`), and the
/// kernel's `khugepaged` later collapses partly used 2 MiB ranges into whole huge pages at moments
/// of its choosing: in a 30-minute soak the RSS stepped up by 11 MiB at minute 11 with a flat live
/// heap, and sat ~12 MiB above what the heap needs (docs/benchmarks.md, "Soak"). A load generator
/// must show flat, explainable memory over hours, so huge pages are off for the whole process
/// (whatever the system's THP setting). Failure (an old kernel) changes nothing else.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!("cannot disable transparent huge pages: {e}");
    }
}

/// mimalloc: the per-request path allocates small, short-lived objects (request heads, header
/// maps, body frames); mimalloc's thread-local free lists make that markedly cheaper than glibc's
/// malloc (measured in docs/benchmarks.md). `stampede-alloc` says why not the `mimalloc` crate's.
#[global_allocator]
static GLOBAL: stampede_alloc::MiMalloc = stampede_alloc::MiMalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    init_logging(args.verbose);
    disable_transparent_huge_pages();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::RUNTIME_FAILURE.into();
        }
    };
    match runtime.block_on(cmd::dispatch(args.command)) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::RUNTIME_FAILURE.into()
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
