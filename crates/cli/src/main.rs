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
    let runtime = match runtime() {
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

/// The async runtime: one thread when the process may use one CPU only (a generator pinned with
/// `taskset -c 0`, a one-CPU container), else one worker per CPU.
///
/// On one CPU a multi-threaded runtime gains nothing (its single worker and the main thread take
/// turns on the same CPU) and pays for its work-stealing queues on every wake: the current-thread
/// runtime cut ~240 instructions per plain GET under callgrind (6,548 to 6,312) and the CPU time
/// per request by ~2 % in interleaved throughput rounds (docs/benchmarks.md, "seventh session").
/// The one behavioural difference: the run's own loop (merging each second, the progress line)
/// takes turns with the users cooperatively instead of preemptively; on one CPU it took the same
/// CPU time from them either way.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_cpu {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build()
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
