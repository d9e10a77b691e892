//! Cost of a scripted step: `cargo bench -p stampede-script`.
//!
//! Times N runs of small scripts on one VM (the steady state of a VU) and prints ns per run (this
//! thread's CPU time from Linux `schedstat`, and wall time), the cost of creating a VM, and its
//! memory. No assertions: the numbers go into the docs by hand. On a busy machine wall time (and
//! to a lesser degree CPU time) is inflated; for a load-independent figure run the binary under
//! `valgrind --tool=callgrind` with two values of `STAMPEDE_BENCH_RUNS` and divide the difference
//! in instructions by the difference in runs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use stampede_script::{Host, OwnedValue, Response, Scripts, Value, Vm};

/// A host as cheap as the engine's: one variable slot, counters summed.
struct BenchHost {
    count: String,
    seen: Option<String>,
    counter: f64,
    version: u64,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Host for BenchHost {
    fn var(&self, name: &str) -> Option<Value<'_>> {
        (name == "count").then_some(Value::Text(&self.count))
    }
    /// Only `count` is read back (`var`); other names are written, not kept.
    fn set_var(&mut self, name: &str, value: OwnedValue) -> bool {
        self.version += 1;
        if let OwnedValue::Text(text) = value {
            if name == "count" {
                self.count = text;
            } else {
                self.seen = Some(text);
            }
        }
        name == "count"
    }
    fn response(&self) -> Option<Response<'_>> {
        Some(Response {
            status: 200,
            body: &self.body,
            headers: &self.headers,
        })
    }
    fn fail(&mut self, _message: String) {}
    fn counter(&mut self, _name: &str, delta: f64) {
        self.counter += delta;
    }
    fn trend(&mut self, _name: &str, value: f64) {
        self.counter += value;
    }
    fn gauge(&mut self, _name: &str, _value: f64) {}
    fn vars_version(&self) -> Option<u64> {
        Some(self.version)
    }
}

/// This thread's on-CPU time in ns (Linux `schedstat`; wall time lies on a busy machine).
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let n: u32 = std::env::var("STAMPEDE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let cases = [
        ("empty script (fixed cost of a run)", "-- nothing"),
        (
            "small: read a var, set a var, one counter",
            "local c = vars.count\nvars.seen = c\nmetrics.counter('n', 1)",
        ),
        (
            "example: tonumber, set, hmac, status check, counter, trend",
            "local n = tonumber(vars.count or '0') + 1\nvars.seen = tostring(n)\n\
             local sig = hmac_sha256_hex('secret', 'body')\n\
             if response and response.status ~= 200 then fail('x') end\n\
             metrics.counter('carts', 1)\nmetrics.trend('size', n)",
        ),
        (
            "bench/script.yaml's step: 3 reads, 1-2 sets, a concatenation, one counter",
            "vars.count = vars.count .. \"1\"\n\
             if #vars.count > 20 then vars.count = \"0\" end\n\
             metrics.counter(\"scripted\", 1)",
        ),
        (
            "pure Lua: 1,000-iteration loop (the only case with the budget hook)",
            "local s = 0\nfor i = 1, 1000 do s = s + i end",
        ),
    ];
    // STAMPEDE_BENCH_CODE=lua adds a case "custom" running that code (for experiments).
    let custom = std::env::var("STAMPEDE_BENCH_CODE").ok();
    let custom = custom.as_deref().map(|code| ("custom", code));
    let cases: Vec<(&str, &str)> = cases.into_iter().chain(custom).collect();
    // Every case has its own scripts and VM, as a scenario with only that script would: a VM
    // whose scripts cannot loop runs without the instruction-budget hook.
    let mut all = Scripts::new();
    for (_, code) in &cases {
        all.add("bench.yaml", 1, code).unwrap();
    }
    let all = Arc::new(all);
    let started = Instant::now();
    let vms: Vec<Vm> = (0..1000)
        .map(|i| Vm::new(all.clone(), i).unwrap())
        .collect();
    let create_us = started.elapsed().as_secs_f64() * 1e6 / vms.len() as f64;
    let fresh_bytes = vms[0].used_memory();
    drop(vms);

    let mut host = BenchHost {
        count: "41".into(),
        seen: None,
        counter: 0.0,
        version: 0,
        headers: http::HeaderMap::new(),
        body: b"{}".to_vec(),
    };
    println!("stampede-script: {n} runs per case on one VM per case (Lua 5.4, mlua)");
    println!("  ns/run: CPU (this thread's on-CPU time), wall");
    // STAMPEDE_BENCH_CASE=text runs only the cases whose name contains `text` (for callgrind).
    let only = std::env::var("STAMPEDE_BENCH_CASE").unwrap_or_default();
    let mut used = 0;
    for (name, code) in &cases {
        if !name.contains(only.as_str()) {
            continue;
        }
        let mut scripts = Scripts::new();
        let id = scripts.add("bench.yaml", 1, code).unwrap();
        let vm_scripts = Arc::new(scripts);
        // One VM (the steady state of a VU), then 50 VMs in turn, as 50 users would: every run
        // then finds its interpreter colder in the CPU caches.
        for (vm_count, label) in [
            (1, name.to_string()),
            (50, "  the same over 50 VMs in turn".into()),
        ] {
            let mut vms: Vec<Vm> = (0..vm_count)
                .map(|i| Vm::new(vm_scripts.clone(), i).unwrap())
                .collect();
            for i in 0..1000 {
                let vm = i % vms.len();
                vms[vm].run(id, &mut host).unwrap();
            }
            let (started, cpu) = (Instant::now(), cpu_ns());
            for i in 0..n as usize {
                let vm = i % vms.len();
                vms[vm].run(black_box(id), &mut host).unwrap();
            }
            let wall = started.elapsed().as_nanos() as f64 / f64::from(n);
            let cpu = cpu_ns()
                .zip(cpu)
                .map(|(end, start)| format!("{:>7.0}", (end - start) as f64 / f64::from(n)));
            println!(
                "  {:>7} {wall:>7.0}  {label}",
                cpu.as_deref().unwrap_or("?")
            );
            used = vms.iter().map(Vm::used_memory).fold(used, usize::max);
        }
    }
    black_box((&host.seen, host.counter));
    println!(
        "  Vm::new: {create_us:.1} µs; {fresh_bytes} bytes fresh, at most {used} bytes after running a case"
    );
}
