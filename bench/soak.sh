#!/usr/bin/env bash
# Soak benchmark: does stampede's memory stay flat and its latency stay put over a long,
# steady open-model run?
#
# stampede runs an arrival-rate load (default 2,000 iterations/s of one GET, keep-alive, one
# connection per virtual user) against a private nginx on 127.0.0.1 for SOAK_DURATION. Every
# SOAK_SAMPLE seconds the script records stampede's VmRSS / VmHWM (from /proc/PID/status), its
# threads and open descriptors, into rss.csv. At the end it reads the run's JSON timeline and
# reports:
#   - RSS after the warm-up (SOAK_WARMUP, default 2 min): min, max, and the spread
#     (max - min) / (max + min), i.e. "flat within ± x %" (target ± 5 %);
#   - latency per minute (requests, p50, p99 from the per-second points) and the p99 drift:
#     the median per-second p99 of the last SOAK_WINDOW vs the first SOAK_WINDOW;
#   - errors, dropped iterations and scheduler lag from the summary.
# See docs/benchmarks.md, "Soak".
#
# Usage (from the repository root):
#   bash bench/soak.sh                         # 30 minutes
#   SOAK_DURATION=3m bash bench/soak.sh        # a quick check
#   nohup bash bench/soak.sh > bench/out/soak.log 2>&1 &
#
# Environment:
#   SOAK_DURATION   run length: 90s, 10m, 30m ... (whole seconds or minutes, 1m..3h; default 30m)
#   SOAK_RATE       iterations per second (default 2000)
#   SOAK_MAX_USERS  the open model's pool limit (default 1000)
#   SOAK_SAMPLE     seconds between RSS samples (default 10)
#   SOAK_WARMUP     seconds excluded from the RSS spread (default 120)
#   SOAK_WINDOW     minutes compared for the p99 drift (default 5; at most half the run)
#   STAMPEDE        the binary (default $CARGO_TARGET_DIR/release/stampede, else target/release)
#
# Writes bench/out/soak-<UTC timestamp>/{scenario.yaml,result.json,rss.csv,minutes.csv,report.md}.
# Only 127.0.0.1 is loaded; the run stops by itself after SOAK_DURATION (plus a 5 s graceful
# stop), and nginx and stampede are stopped on exit whatever happens.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/sbin:/sbin"

DURATION="${SOAK_DURATION:-30m}"
RATE="${SOAK_RATE:-2000}"
MAX_USERS="${SOAK_MAX_USERS:-1000}"
SAMPLE="${SOAK_SAMPLE:-10}"
WARMUP="${SOAK_WARMUP:-120}"
WINDOW_MIN="${SOAK_WINDOW:-5}"
STAMPEDE="${STAMPEDE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/stampede}"

if [[ "$DURATION" =~ ^([1-9][0-9]*)m$ ]]; then
    SECONDS_TOTAL=$((BASH_REMATCH[1] * 60))
elif [[ "$DURATION" =~ ^([1-9][0-9]*)s$ ]]; then
    SECONDS_TOTAL="${BASH_REMATCH[1]}"
else
    echo "SOAK_DURATION must be whole seconds or minutes, e.g. 90s or 30m (got '$DURATION')" >&2
    exit 2
fi
if ((SECONDS_TOTAL < 60 || SECONDS_TOTAL > 10800)); then
    echo "SOAK_DURATION must be between 1m and 3h (got '$DURATION')" >&2
    exit 2
fi
for v in RATE MAX_USERS SAMPLE WARMUP WINDOW_MIN; do
    if [[ ! "${!v}" =~ ^[1-9][0-9]*$ ]]; then
        echo "$v must be a positive whole number (got '${!v}')" >&2
        exit 2
    fi
done
if ((RATE > 20000)); then
    echo "SOAK_RATE above 20000/s is not a soak on a shared machine (got $RATE)" >&2
    exit 2
fi
for tool in nginx curl jq ss python3; do
    command -v "$tool" >/dev/null || { echo "missing '$tool' (apt-get install nginx curl jq iproute2 python3)" >&2; exit 1; }
done
if ! "$STAMPEDE" --version >/dev/null 2>&1; then
    echo "$STAMPEDE does not run; build it with: cargo build --release -p stampede-cli" >&2
    exit 1
fi

log() { printf '==> %s\n' "$*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/stampede-soak.XXXXXX")"
OUT="bench/out/soak-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
# shellcheck source=bench/lib/nginx.sh
source "$ROOT/bench/lib/nginx.sh"

RUN_PID=""
cleanup() {
    local rc=$?
    if [[ -n "$RUN_PID" ]] && kill -0 "$RUN_PID" 2>/dev/null; then
        kill -INT "$RUN_PID" 2>/dev/null || true
        sleep 2
        kill -KILL "$RUN_PID" 2>/dev/null || true
        wait "$RUN_PID" 2>/dev/null || true
    fi
    stop_nginx
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_nginx 1 1 $((MAX_USERS + 500)) off
URL="${NGINX_URLS[0]}"

cat >"$OUT/scenario.yaml" <<EOF
# Written by bench/soak.sh: a steady open-model soak against a private nginx.
version: 1
target: $URL
load:
  arrival_rate: $RATE/s
  duration: ${SECONDS_TOTAL}s
  max_users: $MAX_USERS
  graceful_stop: 5s
scenarios:
  - name: soak
    steps:
      - get: /
        name: fixed 100-byte body
        expect: { status: 200 }
EOF
"$STAMPEDE" validate "$OUT/scenario.yaml" >&2

LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
log "soak: $RATE/s for ${SECONDS_TOTAL}s against $URL, RSS every ${SAMPLE}s -> $OUT"
"$STAMPEDE" run "$OUT/scenario.yaml" --quiet --out "$OUT/result.json" \
    >"$OUT/stampede.out" 2>"$OUT/stampede.err" &
RUN_PID=$!
START_NS="$(date +%s%N)"

echo "elapsed_s,rss_kb,hwm_kb,threads,fds,nginx_established" >"$OUT/rss.csv"
while kill -0 "$RUN_PID" 2>/dev/null; do
    if [[ -r "/proc/$RUN_PID/status" ]]; then
        elapsed=$(( ($(date +%s%N) - START_NS) / 1000000000 ))
        read -r rss hwm threads < <(awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} /^Threads:/ {t = $2}
            END {print r + 0, h + 0, t + 0}' "/proc/$RUN_PID/status" 2>/dev/null || echo "0 0 0")
        fds="$(find "/proc/$RUN_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
        if ((rss > 0)); then
            echo "$elapsed,$rss,$hwm,$threads,$fds,$(nginx_established)" >>"$OUT/rss.csv"
        fi
    fi
    # Sleep in short steps so the end of the run is noticed at once.
    for _ in $(seq $((SAMPLE * 4))); do
        kill -0 "$RUN_PID" 2>/dev/null || break
        sleep 0.25
    done
done
set +e
wait "$RUN_PID"
RUN_RC=$?
set -e
RUN_PID=""
if [[ ! -s "$OUT/result.json" ]]; then
    log "stampede exited $RUN_RC without a result; stderr:"
    tail -20 "$OUT/stampede.err" >&2
    exit 1
fi

# ---------------------------------------------------------------------------
# Analysis: RSS spread after warm-up, latency per minute, p99 drift.
# ---------------------------------------------------------------------------
python3 - "$OUT" "$WARMUP" "$WINDOW_MIN" "$RATE" "$SECONDS_TOTAL" "$LOADAVG" "$RUN_RC" \
    "$("$STAMPEDE" --version)" "$(nginx -v 2>&1 | sed 's|.*/||')" "$SAMPLE" <<'PY'
import csv, json, statistics, sys, os, platform
out, warmup, window_min, rate, total, loadavg, rc, version, nginx, sample = sys.argv[1:11]
warmup, window_min, total = int(warmup), int(window_min), int(total)

rows = list(csv.DictReader(open(os.path.join(out, "rss.csv"))))
steady = [r for r in rows if int(r["elapsed_s"]) >= warmup] or rows
rss = [int(r["rss_kb"]) for r in steady]
lo, hi = min(rss), max(rss)
spread = 100.0 * (hi - lo) / (hi + lo)
first_rss, last_rss = rss[0], rss[-1]

res = json.load(open(os.path.join(out, "result.json")))
s = res["summary"]
minutes = {}
for p in res["timeline"]:
    minutes.setdefault(p["second"] // 60, []).append(p)
with open(os.path.join(out, "minutes.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["minute", "requests", "errors", "p50_ms_median", "p99_ms_median", "p99_ms_max"])
    table = []
    for m in sorted(minutes):
        pts = [p for p in minutes[m] if p["requests"] > 0]
        if not pts:
            continue
        p50 = statistics.median(p["latency_ms"]["p50"] for p in pts)
        p99s = [p["latency_ms"]["p99"] for p in pts]
        row = [m, sum(p["requests"] for p in minutes[m]), sum(p["errors"] for p in minutes[m]),
               round(p50, 3), round(statistics.median(p99s), 3), round(max(p99s), 3)]
        w.writerow(row)
        table.append(row)

window_min = max(1, min(window_min, len(table) // 2))
full = [r for r in table if r[1] >= 0.9 * int(rate) * 60]  # whole minutes only
def seconds_p99(lo_s, hi_s):
    return [p["latency_ms"]["p99"] for p in res["timeline"]
            if lo_s <= p["second"] < hi_s and p["requests"] > 0]
last_full = (full[-1][0] + 1) * 60 if full else total
first = seconds_p99(0, window_min * 60)
last = seconds_p99(last_full - window_min * 60, last_full)
p99_first, p99_last = statistics.median(first), statistics.median(last)
drift = 100.0 * (p99_last - p99_first) / p99_first

lag = s.get("scheduler_lag_ms") or {}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
md = []
md.append(f"# Soak, {res['run']['started_at']}")
md.append("")
md.append(f"- machine: {os.cpu_count()} CPUs, {cpu}, {mem / 1048576:.0f} GiB, Linux {platform.release()}; load average at start {loadavg}")
md.append(f"- {version}, target nginx {nginx} (1 worker, 100-byte body, keep-alive) on {res['run']['target']}")
md.append(f"- load: {res['run']['load']}; status {res['run']['status']}, exit code {rc}")
md.append(f"- requests {s['requests']:,} ({s['rps']:.1f}/s over {s['duration_s']:.0f} s), errors {s['errors']}, failed checks {s['failures']}, "
          f"dropped iterations {s['dropped_iterations']}, max users {s['max_users']}, "
          f"scheduler lag p50/p99/max {lag.get('p50', '-')}/{lag.get('p99', '-')}/{lag.get('max', '-')} ms")
md.append(f"- latency over the run: p50 {s['latency_ms']['p50']} ms, p99 {s['latency_ms']['p99']} ms, max {s['latency_ms']['max']} ms")
md.append("")
md.append(f"**RSS after the first {warmup} s** ({len(rss)} samples, every {sample} s): "
          f"min {lo / 1024:.1f} MiB, max {hi / 1024:.1f} MiB, first {first_rss / 1024:.1f} MiB, last {last_rss / 1024:.1f} MiB; "
          f"spread (max - min) / (max + min) = ± {spread:.2f} % (target ± 5 %: {'met' if spread <= 5 else 'MISSED'}). "
          f"VmHWM at the end {int(rows[-1]['hwm_kb']) / 1024:.1f} MiB.")
md.append("")
md.append(f"**p99 drift:** median per-second p99 over the first {window_min} min {p99_first:.3f} ms, "
          f"over the last {window_min} full min {p99_last:.3f} ms: {drift:+.1f} %.")
md.append("")
md.append("| minute | requests | errors | p50 ms (median of seconds) | p99 ms (median of seconds) | p99 ms (worst second) |")
md.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
for r in table:
    md.append(f"| {r[0]} | {r[1]:,} | {r[2]} | {r[3]} | {r[4]} | {r[5]} |")
open(os.path.join(out, "report.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
log "written to $OUT/report.md"
