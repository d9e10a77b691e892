//! Accuracy of the open model, measured in real time against real servers on loopback: the
//! arrival rate and its spread, latency against a fixed delay, and coordinated omission against
//! a target that freezes (open model versus closed model).
//!
//! A test binary of its own with a single test: cargo runs test binaries one after another, so
//! these timing measurements never share the (possibly two) cores with other tests. Each step
//! prints what it measured (`cargo test -p stampede-engine --test accuracy -- --nocapture`).

#[allow(dead_code)]
#[path = "engine/support.rs"]
mod support;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use stampede_metrics::{StepStats, new_histogram};
use stampede_scenario::ThinkTime;
use stampede_testkit::TestTarget;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use support::{get, ms, plan, run};
use tokio::net::TcpListener;

/// A Tokio runtime on a thread of its own, for a target server: the generator's tasks then never
/// delay the target's timers (and the reverse), as with a target on another machine.
struct OwnRuntime {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl OwnRuntime {
    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().expect("target thread");
    }
}

/// Runs `start` (e.g. `TestTarget::start`) on a new runtime thread and returns what it built;
/// the tasks it spawned keep running there until [`OwnRuntime::stop`].
fn on_own_runtime<T, F>(start: fn() -> F) -> (T, OwnRuntime)
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let _ = tx.send(start().await);
            let _ = stopped.await;
        });
    });
    let value = rx.recv().expect("server started");
    (value, OwnRuntime { stop, thread })
}

fn q_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_accuracy_suite() {
    rate_is_exact_and_even().await;
    latency_of_a_fixed_delay().await;
    coordinated_omission_is_corrected().await;
}

/// 2,000 iterations/s for 10 s: the target counts 20,000 ± 1 %, and no whole second deviates
/// from 2,000 by more than 5 %.
async fn rate_is_exact_and_even() {
    let (target, runtime) = on_own_runtime(TestTarget::start);
    let builder = plan(target.addr())
        .arrival_rate(2000.0, Duration::from_secs(10), 2000)
        .scenario("rate", 1, ThinkTime::None, vec![get("hit", "/rate")]);
    let out = run(builder.build()).await;

    let arrivals = target.arrivals("/rate");
    let count = arrivals.len() as f64;
    let dropped: u64 = out.snapshots.iter().map(|s| s.dropped_iterations).sum();
    eprintln!("rate: {count} arrivals (target 20000), {dropped} dropped");
    // A pool of 2,000 absorbs a stall of the machine of up to a second without dropping.
    assert!((count - 20_000.0).abs() <= 200.0, "{count} arrivals");
    // Seconds of the schedule: its start estimated as the median of `arrival[i] − i × 0.5 ms`
    // (robust to a few late requests), so each bucket holds the arrivals due in that second.
    let mut starts: Vec<Instant> = (arrivals.iter().enumerate())
        .map(|(i, a)| *a - Duration::from_micros(500 * i as u64))
        .collect();
    starts.sort();
    let origin = starts[starts.len() / 2];
    let mut per_second = [0u32; 10];
    for a in &arrivals {
        let s = a.saturating_duration_since(origin).as_secs() as usize;
        per_second[s.min(9)] += 1;
    }
    eprintln!("rate: per second {per_second:?}");
    for (s, n) in per_second.iter().enumerate() {
        let deviation = (f64::from(*n) - 2000.0).abs() / 2000.0;
        assert!(
            deviation <= 0.05,
            "second {s}: {n} arrivals ({per_second:?})"
        );
    }
    let lag = merged_lag(&out.snapshots);
    eprintln!(
        "rate: scheduler lag p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        q_ms(&lag, 0.5),
        q_ms(&lag, 0.99),
        lag.max() as f64 / 1000.0
    );
    target.shutdown().await;
    runtime.stop();
}

/// Against a target that answers 50 ms after each request arrives, ~100 iterations/s for 5 s:
/// p50 within 2 ms and p99 within 5 ms of what the target itself measured (arrival to answer).
///
/// The target sleeps on a blocking thread (the OS timer, ~0.1 ms precise) rather than with
/// `TestTarget`'s `/delay/50`, whose Tokio timer rounds up to the next millisecond, and it
/// records how long it really held each request: what is measured above that is the
/// generator's own doing (scheduler lag, wake-ups, loopback).
///
/// A shared CI machine can stall any process for several milliseconds, which moves a p99 of
/// 500 samples by itself. The measurement is therefore taken up to three times and passes when
/// one attempt meets both bounds; every attempt is printed. A generator that adds latency fails
/// all three.
async fn latency_of_a_fixed_delay() {
    let mut attempts = Vec::new();
    for attempt in 1..=3 {
        let verdict = measure_fixed_delay().await;
        eprintln!("delay 50 ms, attempt {attempt}: {verdict:?}");
        match verdict {
            Ok(_) => return,
            Err(why) => attempts.push(why),
        }
    }
    panic!("the generator adds latency in every attempt: {attempts:#?}");
}

async fn measure_fixed_delay() -> Result<String, String> {
    let (server, runtime) = on_own_runtime(DelayServer::start);
    let builder = plan(server.addr)
        .arrival_rate(100.0, Duration::from_secs(5), 50)
        .scenario("delay", 1, ThinkTime::None, vec![get("d", "/")]);
    let row = builder.row("delay", "d");
    let out = run(builder.build()).await;
    let held = server.held.lock().expect("held").clone();
    server.stop();
    runtime.stop();
    let stats = out.row(row);
    assert_eq!(stats.requests, 500);
    assert_eq!(held.len(), 500, "the target answered every request");
    let (p50, p99) = (q_ms(&stats.latency, 0.5), q_ms(&stats.latency, 0.99));
    let (s50, s99) = (q_ms(&stats.service, 0.5), q_ms(&stats.service, 0.99));
    let (t50, t99) = (q_ms(&held, 0.5), q_ms(&held, 0.99));
    let line = format!(
        "latency p50 {p50} ms p99 {p99} ms, service p50 {s50} ms p99 {s99} ms, \
         target-measured p50 {t50} ms p99 {t99} ms"
    );
    if (p50 - t50).abs() <= 2.0 && (p99 - t99).abs() <= 5.0 {
        Ok(line)
    } else {
        Err(line)
    }
}

/// A target that holds every response during 1 s of every 5 s. Open model, 1,000/s for 10 s:
/// the requests arriving in a frozen second (20 % of them) wait until it ends, so their latency
/// is uniform on (0, 1 s]; the other 80 % are near 0. The true quantiles are then
/// P(L > x) = 0.2 · (1 − x/1 s): p90 = 500 ms, p99 = 950 ms. The closed model with the same
/// throughput records only one stuck request per user per freeze and hides it.
async fn coordinated_omission_is_corrected() {
    let (server, runtime) = on_own_runtime(FreezingServer::start);
    let builder = plan(server.addr)
        .arrival_rate(1000.0, Duration::from_secs(10), 1500)
        .load(|l| {
            if let Some(a) = &mut l.arrival {
                a.pre_allocated_users = 1200;
            }
        })
        .scenario("open", 1, ThinkTime::None, vec![get("r", "/")]);
    let out = run(builder.build()).await;
    let open = merged_rows(&out.rows);
    let dropped: u64 = out.snapshots.iter().map(|s| s.dropped_iterations).sum();
    let (p50, p90, p99) = (
        q_ms(&open.latency, 0.5),
        q_ms(&open.latency, 0.9),
        q_ms(&open.latency, 0.99),
    );
    eprintln!(
        "freeze, open: {} requests, {dropped} dropped, p50 {p50} p90 {p90} p99 {p99} ms",
        open.requests
    );
    assert!(p99 >= 800.0, "p99 {p99} ms");
    assert!(
        (p90 - 500.0).abs() <= 100.0,
        "p90 {p90} ms, truth 500 ms ± 20 %"
    );
    server.stop();
    runtime.stop();

    // The closed model at a similar throughput: 10 users, 10 ms think time.
    let (server, runtime) = on_own_runtime(FreezingServer::start);
    let builder = plan(server.addr)
        .users(10, Duration::from_secs(10))
        .scenario(
            "closed",
            1,
            ThinkTime::Constant(ms(10)),
            vec![get("r", "/")],
        );
    let out = run(builder.build()).await;
    let closed = merged_rows(&out.rows);
    let (c90, c99) = (q_ms(&closed.latency, 0.9), q_ms(&closed.latency, 0.99));
    eprintln!(
        "freeze, closed: {} requests, p90 {c90} p99 {c99} ms, max {} ms",
        closed.requests,
        closed.latency.max() as f64 / 1000.0
    );
    assert!(
        c99 < 100.0,
        "the closed model hides the freezes: p99 {c99} ms"
    );
    assert!(
        closed.latency.max() >= 500_000,
        "yet each user did get stuck"
    );
    server.stop();
    runtime.stop();
}

fn merged_lag(snapshots: &[stampede_metrics::Snapshot]) -> Histogram<u64> {
    let mut lag = new_histogram();
    for s in snapshots {
        lag.add(&s.scheduler_lag).expect("histograms merge");
    }
    lag
}

fn merged_rows(rows: &std::collections::BTreeMap<u32, StepStats>) -> StepStats {
    let mut all = StepStats::default();
    rows.values().for_each(|s| all.merge(s));
    all
}

/// An HTTP/1.1 server that answers every request 50 ms after it arrived, timed by the OS, and
/// records how long it held each one.
struct DelayServer {
    addr: SocketAddr,
    held: Arc<std::sync::Mutex<Histogram<u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DelayServer {
    async fn start() -> DelayServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let held = Arc::new(std::sync::Mutex::new(new_histogram()));
        let record = held.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let record = record.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_req| {
                        let record = record.clone();
                        async move {
                            let arrived = Instant::now();
                            let _ = tokio::task::spawn_blocking(move || {
                                let left =
                                    Duration::from_millis(50).saturating_sub(arrived.elapsed());
                                std::thread::sleep(left);
                            })
                            .await;
                            let micros = arrived.elapsed().as_micros() as u64;
                            let _ = record.lock().expect("held").record(micros);
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(
                                Bytes::from_static(b"ok"),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        DelayServer { addr, held, task }
    }

    fn stop(self) {
        self.task.abort();
    }
}

/// An HTTP/1.1 server whose responses are held during the last second of every 5 s (counted
/// from its first request): a request that arrives frozen, or whose answer is due then, is
/// answered when the second ends.
struct FreezingServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

const PERIOD: Duration = Duration::from_secs(5);
const FROZEN: Duration = Duration::from_secs(1);

impl FreezingServer {
    async fn start() -> FreezingServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let origin: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
        let served = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let (origin, served) = (origin.clone(), served.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |_req| {
                        let (origin, served) = (origin.clone(), served.clone());
                        async move {
                            let start = *origin.get_or_init(Instant::now);
                            let phase = Duration::from_nanos(
                                (start.elapsed().as_nanos() % PERIOD.as_nanos()) as u64,
                            );
                            if phase >= PERIOD - FROZEN {
                                tokio::time::sleep(PERIOD - phase).await;
                            }
                            served.fetch_add(1, Ordering::Relaxed);
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(
                                Bytes::from_static(b"ok"),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FreezingServer { addr, task }
    }

    fn stop(self) {
        self.task.abort();
    }
}
