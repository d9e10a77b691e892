//! `stampede-ingest-sim`: measures what a `stampede controller` spends ingesting agents' live
//! snapshots. It connects N simulated agents to the controller's agent port (the real protocol:
//! register, heartbeats, clock replies, assignments), submits one run of `--names` request names
//! that waits for all N, and has every agent stream one realistic snapshot per second for it.
//! It then reports the controller's CPU (cores, over the run minus a warm-up) and memory, the bytes
//! each agent sent per second, and the delay from an agent's sample to the merged live snapshot
//! on the submitter's stream. Loopback only; every run is bounded by `--duration`.
//!
//! See `bench/ingest.sh` and the "Controller ingest" section of `docs/benchmarks.md`.

mod agent;
mod board;
mod offline;
mod procstat;
mod snapshots;
mod submit;

use agent::Fleet;
use anyhow::{Context, bail};
use board::{Board, Delays, MergeReport};
use clap::Parser;
use procstat::{CpuSample, Proc};
use prost::Message;
use snapshots::Shape;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tonic::metadata::MetadataValue;

/// Simulated agents streaming snapshots to a controller, to measure its ingest.
#[derive(Parser, Debug)]
#[command(name = "stampede-ingest-sim", version)]
struct Args {
    /// The controller's agent port.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:7600")]
    agent_url: String,
    /// The controller's API port.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:7601")]
    api_url: String,
    /// Token file (its first token is used), as given to the controller's --token-file.
    #[arg(long, value_name = "FILE", required_unless_present = "offline")]
    token_file: Option<PathBuf>,
    /// Connect to no controller: decode and merge `--agents` × `--duration` snapshots in this
    /// process, on one thread, as a controller does, and report the cost per snapshot.
    #[arg(long)]
    offline: bool,
    /// Simulated agents.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=5000))]
    agents: u32,
    /// Request names per snapshot (rows r00, r01, ...).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    names: u32,
    /// Mean responses per row per agent per second (each row's latency histogram).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    samples: u32,
    /// Length of the run, whole seconds (e.g. 60s).
    #[arg(long, default_value = "60s", value_parser = parse_seconds)]
    duration: u32,
    /// Seconds at the start of the run left out of the CPU measurement.
    #[arg(long, default_value = "5s", value_parser = parse_seconds)]
    warmup: u32,
    /// Distinct snapshots built (and encoded) at start-up, sent in turn.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    distinct: u32,
    /// Pid of the controller process, for its CPU time and memory (from /proc).
    #[arg(long, value_name = "PID")]
    controller_pid: Option<u32>,
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
    /// Also print the results as `key=value` lines (for scripts).
    #[arg(long)]
    kv: bool,
}

fn parse_seconds(s: &str) -> Result<u32, String> {
    let n = s.strip_suffix('s').unwrap_or(s);
    match n.parse::<u32>() {
        Ok(n) if n <= 3_600 => Ok(n),
        _ => Err(format!(
            "expected whole seconds up to 3600s, e.g. 60s (got {s:?})"
        )),
    }
}

/// The controller's CPU over the measured window, and its memory.
#[derive(Clone, Copy, Debug, Default)]
struct ProcFigures {
    cores: f64,
    window_s: f64,
    rss_idle_kib: u64,
    rss_end_kib: u64,
    hwm_kib: u64,
}

fn read_token(path: &PathBuf) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .with_context(|| format!("{}: no token in the file (one per line)", path.display()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.warmup + 5 > args.duration {
        bail!(
            "--duration ({}s) must exceed --warmup ({}s) by at least 5s",
            args.duration,
            args.warmup
        );
    }
    if args.offline {
        return run_offline(&args);
    }
    let token_file = args
        .token_file
        .as_ref()
        .context("--token-file is required")?;
    let token = read_token(token_file)?;
    let auth = MetadataValue::try_from(format!("Bearer {token}"))
        .context("the token must be visible ASCII")?;
    let controller = match args.controller_pid {
        Some(pid) => Some(Proc::pid(pid, args.clk_tck)?),
        None => None,
    };
    let me = Proc::current(args.clk_tck);

    let built = Instant::now();
    let shape = Shape {
        rows: args.names,
        samples: args.samples,
        users: 1,
    };
    let pool = snapshots::prepare(shape, args.distinct as usize)?;
    let mean_requests = pool.iter().map(|p| p.requests).sum::<u64>() / pool.len() as u64;
    eprintln!(
        "built {} snapshots of {} rows (~{mean_requests} requests each) in {:.1} s",
        pool.len(),
        args.names,
        built.elapsed().as_secs_f64()
    );

    let board = Arc::new(Board::default());
    let fleet = Arc::new(Fleet {
        url: args.agent_url.clone(),
        auth: auth.clone(),
        capacity: 100,
        seconds: args.duration,
        pool,
        board: board.clone(),
    });
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (registered_tx, mut registered_rx) = mpsc::channel(args.agents as usize);
    let (failed_tx, mut failed_rx) = mpsc::unbounded_channel::<anyhow::Error>();
    let mut agents = Vec::new();
    for index in 0..args.agents as usize {
        let (fleet, registered, shutdown, failed) = (
            fleet.clone(),
            registered_tx.clone(),
            shutdown_rx.clone(),
            failed_tx.clone(),
        );
        agents.push(tokio::spawn(async move {
            if let Err(e) = agent::run(fleet, index, registered, shutdown).await {
                let _ = failed.send(e);
            }
        }));
    }
    drop(registered_tx);
    let connecting = Instant::now();
    for n in 0..args.agents {
        tokio::select! {
            r = registered_rx.recv() => if r.is_none() { bail!("only {n} agents registered") },
            Some(e) = failed_rx.recv() => return Err(e.context(format!("after {n} agents registered"))),
            _ = tokio::time::sleep(Duration::from_secs(60)) => {
                bail!("only {n} of {} agents registered within 60 s", args.agents)
            }
        }
    }
    eprintln!(
        "{} agents registered in {:.1} s",
        args.agents,
        connecting.elapsed().as_secs_f64()
    );
    let rss_idle_kib = match &controller {
        Some(c) => c.kib("VmRSS")?,
        None => 0,
    };

    let plan = submit::RunPlan {
        api: args.api_url.clone(),
        auth,
        agents: args.agents,
        names: args.names,
        seconds: args.duration,
    };
    let (started_tx, started_rx) = oneshot::channel();
    let submitting = tokio::spawn(submit::submit(plan, board.clone(), started_tx));
    // The measurement window: [start + warmup, start + duration] of the run's clock.
    let measure = {
        let (board, controller, me) = (board.clone(), controller.clone(), me.clone());
        let (warmup, duration) = (args.warmup, args.duration);
        tokio::spawn(async move {
            if started_rx.await.is_err() {
                return Ok(None);
            }
            let start = loop {
                if let Some(s) = board.start() {
                    break s;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            window(start, warmup, duration, controller.as_ref(), &me).await
        })
    };
    // An agent the controller drops (e.g. declared gone while it was too busy to read its
    // heartbeats) is counted and reported; the run goes on without it (policy `continue`).
    let deadline = tokio::time::sleep(Duration::from_secs(u64::from(args.duration) + 120));
    tokio::pin!(deadline, submitting);
    let mut lost = 0u32;
    let outcome = loop {
        tokio::select! {
            r = &mut submitting => break r.context("the submitter panicked")?,
            Some(e) = failed_rx.recv() => {
                lost += 1;
                eprintln!("agent lost: {e:#}");
            }
            _ = &mut deadline => break Err(anyhow::anyhow!("the run did not end within {} s", args.duration + 120)),
        }
    };
    let _ = shutdown_tx.send(true);
    let outcome = outcome?;
    let (cpu, sim_cores) = match measure.await.context("the measurement task panicked")?? {
        Some(x) => x,
        None => bail!("the run never started"),
    };
    for a in agents {
        let _ = tokio::time::timeout(Duration::from_secs(5), a).await;
    }
    let cpu = ProcFigures {
        rss_idle_kib,
        ..cpu
    };
    let merge = board.report(args.agents);
    print_report(&args, &outcome, &board, &merge, cpu, sim_cores, lost);
    if outcome.agents != args.agents as usize {
        bail!(
            "the controller assigned the run to {} agents, not {}: see its log",
            outcome.agents,
            args.agents
        );
    }
    Ok(())
}

/// `--offline`: the decode-and-merge cost per snapshot, without a controller.
fn run_offline(args: &Args) -> anyhow::Result<()> {
    let shape = Shape {
        rows: args.names,
        samples: args.samples,
        users: 1,
    };
    let pool = snapshots::prepare(shape, args.distinct as usize)?;
    let bytes = pool.iter().map(|p| p.wire.encoded_len()).sum::<usize>() / pool.len();
    let r = offline::measure(&pool, args.agents, args.duration)?;
    let ms = r.ms_per_snapshot();
    println!(
        "offline merge       {} snapshots of {} names (~{bytes} B each, {} B gzipped; {} requests) in {:.3} s",
        r.snapshots, args.names, r.gzip_bytes, r.requests, r.seconds
    );
    println!(
        "per snapshot        {ms:.3} ms of one core: {:.3} cores at {} agents, ~{:.0} agents per core",
        ms * f64::from(args.agents) / 1e3,
        args.agents,
        1e3 / ms
    );
    println!(
        "agent side          {:.3} ms per snapshot to encode and gzip it",
        r.send_ms
    );
    if args.kv {
        println!("offline_ms_per_snapshot={ms:.4}");
        println!("offline_agent_ms_per_snapshot={:.4}", r.send_ms);
        println!("offline_bytes_per_snapshot={bytes}");
        println!("offline_gzip_bytes_per_snapshot={}", r.gzip_bytes);
    }
    Ok(())
}

/// Samples CPU at `start + warmup` and `start + duration`, and memory at the end.
async fn window(
    start: Instant,
    warmup: u32,
    duration: u32,
    controller: Option<&Proc>,
    me: &Proc,
) -> anyhow::Result<Option<(ProcFigures, f64)>> {
    let at = |s: u32| tokio::time::Instant::from_std(start + Duration::from_secs(u64::from(s)));
    tokio::time::sleep_until(at(warmup)).await;
    let sample =
        |p: Option<&Proc>| -> anyhow::Result<Option<CpuSample>> { p.map(Proc::cpu).transpose() };
    let (c0, m0) = (sample(controller)?, me.cpu()?);
    tokio::time::sleep_until(at(duration)).await;
    let (c1, m1) = (sample(controller)?, me.cpu()?);
    let mut figures = ProcFigures {
        window_s: m1.at.saturating_duration_since(m0.at).as_secs_f64(),
        ..ProcFigures::default()
    };
    if let (Some(c), Some(c0), Some(c1)) = (controller, c0, c1) {
        figures.cores = c.cores(c0, c1);
        figures.rss_end_kib = c.kib("VmRSS")?;
        figures.hwm_kib = c.kib("VmHWM")?;
    }
    Ok(Some((figures, me.cores(m0, m1))))
}

fn print_report(
    args: &Args,
    outcome: &submit::Outcome,
    board: &Board,
    merge: &MergeReport,
    cpu: ProcFigures,
    sim_cores: f64,
    lost: u32,
) {
    let n = f64::from(args.agents);
    let secs = f64::from(args.duration);
    let snapshots = board.snapshots.load(Ordering::Relaxed);
    let snapshot_bytes = board.snapshot_bytes.load(Ordering::Relaxed) as f64;
    let other_bytes = board.other_bytes.load(Ordering::Relaxed) as f64;
    let per_snapshot = snapshot_bytes / snapshots.max(1) as f64;
    // Snapshots and heartbeats per agent per second of the run; registration and clock replies
    // (once per session) are spread over the run too.
    let bytes_per_agent_s = (snapshot_bytes + other_bytes) / n / secs;
    let d = |x: &Delays| {
        format!(
            "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} seconds)",
            x.p50, x.p99, x.max, x.count
        )
    };
    println!(
        "run {} on {} agents, {} names, {} s",
        outcome.run_id, outcome.agents, args.names, args.duration
    );
    if args.controller_pid.is_some() {
        println!(
            "controller CPU      {:.3} cores over {:.1} s (after a {} s warm-up)",
            cpu.cores, cpu.window_s, args.warmup
        );
        println!(
            "controller memory   RSS {:.1} MiB idle with agents, {:.1} MiB at the end, peak {:.1} MiB",
            cpu.rss_idle_kib as f64 / 1024.0,
            cpu.rss_end_kib as f64 / 1024.0,
            cpu.hwm_kib as f64 / 1024.0
        );
    }
    println!("simulator CPU       {sim_cores:.3} cores");
    println!(
        "agent bytes         {bytes_per_agent_s:.0} B per agent per second ({per_snapshot:.0} B per snapshot, {snapshots} snapshots)"
    );
    println!("delay from sample   {}", d(&merge.from_sample));
    println!("delay from last send {}", d(&merge.from_last_send));
    println!("send spread         {}", d(&merge.send_spread));
    println!(
        "seconds             {} sent by every agent, {} merged complete, {} merged; requests sent {} merged {}",
        merge.seconds_full,
        merge.seconds_complete,
        merge.seconds_merged,
        merge.requests_sent,
        merge.requests_merged
    );
    println!("agents lost         {lost}");
    for note in outcome.notes.iter().take(5) {
        println!("note: {note}");
    }
    if outcome.notes.len() > 5 {
        println!("({} more notes)", outcome.notes.len() - 5);
    }
    if args.kv {
        let kv = [
            ("agents", args.agents.to_string()),
            ("names", args.names.to_string()),
            ("duration_s", args.duration.to_string()),
            ("controller_cores", format!("{:.4}", cpu.cores)),
            ("window_s", format!("{:.1}", cpu.window_s)),
            (
                "rss_idle_mib",
                format!("{:.1}", cpu.rss_idle_kib as f64 / 1024.0),
            ),
            (
                "rss_end_mib",
                format!("{:.1}", cpu.rss_end_kib as f64 / 1024.0),
            ),
            (
                "rss_peak_mib",
                format!("{:.1}", cpu.hwm_kib as f64 / 1024.0),
            ),
            ("sim_cores", format!("{sim_cores:.4}")),
            ("bytes_per_agent_s", format!("{bytes_per_agent_s:.0}")),
            ("bytes_per_snapshot", format!("{per_snapshot:.0}")),
            ("delay_p50_ms", format!("{:.0}", merge.from_sample.p50)),
            ("delay_p99_ms", format!("{:.0}", merge.from_sample.p99)),
            ("delay_max_ms", format!("{:.0}", merge.from_sample.max)),
            (
                "send_delay_p50_ms",
                format!("{:.0}", merge.from_last_send.p50),
            ),
            (
                "send_delay_p99_ms",
                format!("{:.0}", merge.from_last_send.p99),
            ),
            ("spread_p99_ms", format!("{:.0}", merge.send_spread.p99)),
            ("seconds_full", merge.seconds_full.to_string()),
            ("agents_lost", lost.to_string()),
            ("seconds_complete", merge.seconds_complete.to_string()),
            ("requests_sent", merge.requests_sent.to_string()),
            ("requests_merged", merge.requests_merged.to_string()),
        ];
        for (k, v) in kv {
            println!("{k}={v}");
        }
    }
}
