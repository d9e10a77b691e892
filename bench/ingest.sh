#!/usr/bin/env bash
# Controller ingest benchmark: what a `stampede controller` spends merging its agents' live
# snapshots, with simulated agents (tools/ingest-sim) instead of real ones.
#
# For each agent count N (default 50, 100, 200) a fresh controller is started on 127.0.0.1 with a
# generated token file, and `stampede-ingest-sim` connects N simulated agents (the real protocol:
# register, heartbeats, clock replies), submits one run of BENCH_NAMES request names that waits
# for all N, and has every agent stream one realistic snapshot per second (BENCH_NAMES rows of
# ~BENCH_SAMPLES responses each: HDR latency/service/phase histograms, HDR V2 in gzipped messages, status
# counts, bytes) for BENCH_DURATION. No HTTP request is sent anywhere. Recorded per N: the
# controller's CPU (cores, /proc/<pid>/stat over the run minus a warm-up), its RSS, the bytes
# each agent sent per second, and the delay from an agent's sample (the end of a second) to the
# merged snapshot of that second on the submitter's stream. Then a linear fit of CPU against N
# projects how many agents one controller core carries. See docs/benchmarks.md.
#
# Usage (from the repository root):  bash bench/ingest.sh
#
# Environment:
#   BENCH_DURATION  run length per agent count, whole seconds like 60s     (default 60s)
#   BENCH_AGENTS    agent counts, in order                                  (default "50 100 200")
#   BENCH_NAMES     request names per snapshot                              (default 50)
#   BENCH_SAMPLES   mean responses per name per agent per second            (default 300)
#   BENCH_WARMUP    seconds left out of the CPU measurement                 (default 5s)
#   BENCH_PIN=0     do not pin (default 1: controller on CPU 1, simulator on CPU 0)
#   BENCH_PORT      first of the two controller ports on 127.0.0.1          (default: first free pair from 17600)
#   BENCH_SKIP_BUILD=1  do not build (use existing release binaries)
#
# Only 127.0.0.1 is used; every run is bounded by BENCH_DURATION (+ 2 min of slack).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-60s}"
AGENT_COUNTS="${BENCH_AGENTS:-50 100 200}"
NAMES="${BENCH_NAMES:-50}"
SAMPLES="${BENCH_SAMPLES:-300}"
WARMUP="${BENCH_WARMUP:-5s}"
PIN="${BENCH_PIN:-1}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
STAMPEDE="$TARGET_DIR/release/stampede"
SIM="$TARGET_DIR/release/stampede-ingest-sim"

if [[ ! "$DURATION" =~ ^[1-9][0-9]*s$ ]] || ((${DURATION%s} > 600)); then
    echo "BENCH_DURATION must be whole seconds between 1s and 600s, e.g. 60s (got '$DURATION')" >&2
    exit 2
fi
if [[ ! "$WARMUP" =~ ^[0-9]+s$ ]] || ((${WARMUP%s} + 5 > ${DURATION%s})); then
    echo "BENCH_WARMUP must be whole seconds, at least 5 s shorter than BENCH_DURATION (got '$WARMUP')" >&2
    exit 2
fi
for n in $AGENT_COUNTS; do
    if [[ ! "$n" =~ ^[1-9][0-9]*$ ]] || ((n > 2000)); then
        echo "BENCH_AGENTS must list counts 1..2000 (got '$n')" >&2
        exit 2
    fi
done
if [[ ! "$NAMES" =~ ^[1-9][0-9]*$ ]] || ((NAMES > 1000)); then
    echo "BENCH_NAMES must be 1..1000 (got '$NAMES')" >&2
    exit 2
fi
if [[ ! "$SAMPLES" =~ ^[1-9][0-9]*$ ]]; then
    echo "BENCH_SAMPLES must be a positive number (got '$SAMPLES')" >&2
    exit 2
fi
if [[ "$PIN" == 1 ]] && { (($(nproc) < 2)) || ! command -v taskset >/dev/null; }; then
    echo "pinning needs 2 CPUs and taskset (util-linux); set BENCH_PIN=0 to run unpinned" >&2
    exit 2
fi

log() { printf '==> %s\n' "$*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/stampede-ingest.XXXXXX")"
CONTROLLER_PID=""
stop_controller() {
    [[ -n "$CONTROLLER_PID" ]] || return 0
    kill -INT "$CONTROLLER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$CONTROLLER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$CONTROLLER_PID" 2>/dev/null || true
    wait "$CONTROLLER_PID" 2>/dev/null || true
    CONTROLLER_PID=""
}
cleanup() {
    local rc=$?
    stop_controller
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "building stampede and stampede-ingest-sim (release)"
    cargo build --release -p stampede-cli -p stampede-ingest-sim >&2
fi
for bin in "$STAMPEDE" "$SIM"; do
    if [[ ! -x "$bin" ]]; then
        echo "$bin is missing: build it (or unset BENCH_SKIP_BUILD)" >&2
        exit 1
    fi
done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
# 32 random hex characters (the controller wants at least 16), readable by this user only.
(umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$WORK/token")

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_ports() {
    if [[ -n "${BENCH_PORT:-}" ]]; then
        echo "$BENCH_PORT"
        return
    fi
    local p
    for p in $(seq 17600 2 17700); do
        if ! port_in_use "$p" && ! port_in_use $((p + 1)); then
            echo "$p"
            return
        fi
    done
    echo "no free port pair in 17600..17701 on 127.0.0.1 (set BENCH_PORT)" >&2
    exit 1
}

CTRL_PIN=()
SIM_PIN=()
if [[ "$PIN" == 1 ]]; then
    CTRL_PIN=(taskset -c 1)
    SIM_PIN=(taskset -c 0)
fi

ROWS=() # "agents|cores|rss_idle|rss_end|rss_peak|bytes|p50|p99|max|send_p99|complete/full|lost|sim_cores"
run_one() {
    local n="$1" port
    port="$(pick_ports)"
    mkdir -p "$WORK/data-$n"
    "${CTRL_PIN[@]}" "$STAMPEDE" controller --listen "127.0.0.1:$port" --api "127.0.0.1:$((port + 1))" \
        --token-file "$WORK/token" --data-dir "$WORK/data-$n" >"$WORK/controller-$n.log" 2>&1 &
    CONTROLLER_PID=$!
    local _
    for _ in $(seq 100); do
        port_in_use $((port + 1)) && port_in_use "$port" && break
        kill -0 "$CONTROLLER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! port_in_use "$port"; then
        echo "the controller did not start; its log:" >&2
        cat "$WORK/controller-$n.log" >&2
        exit 1
    fi
    log "$n agents x $NAMES names for $DURATION (controller pid $CONTROLLER_PID, ports $port/$((port + 1)))"
    if ! timeout $((${DURATION%s} + 180)) "${SIM_PIN[@]}" "$SIM" \
        --agent-url "http://127.0.0.1:$port" --api-url "http://127.0.0.1:$((port + 1))" \
        --token-file "$WORK/token" --agents "$n" --names "$NAMES" --samples "$SAMPLES" \
        --duration "$DURATION" --warmup "$WARMUP" --controller-pid "$CONTROLLER_PID" \
        --clk-tck "$CLK_TCK" --kv >"$WORK/sim-$n.out" 2>"$WORK/sim-$n.err"; then
        log "the simulator failed for $n agents:"
        cat "$WORK/sim-$n.err" "$WORK/sim-$n.out" >&2
        tail -20 "$WORK/controller-$n.log" >&2
        ROWS+=("$n|failed|-|-|-|-|-|-|-|-|-|-|-")
        stop_controller
        return 0
    fi
    grep -v '=' "$WORK/sim-$n.out" >&2 || true
    stop_controller
    local out="$WORK/sim-$n.out"
    kv() { awk -F= -v k="$1" '$1 == k {print $2; exit}' "$out"; }
    ROWS+=("$n|$(kv controller_cores)|$(kv rss_idle_mib)|$(kv rss_end_mib)|$(kv rss_peak_mib)|$(kv bytes_per_agent_s)|$(kv delay_p50_ms)|$(kv delay_p99_ms)|$(kv delay_max_ms)|$(kv send_delay_p99_ms)|$(kv seconds_complete)/$(kv duration_s)|$(kv agents_lost)|$(kv sim_cores)")
}

LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v l="${LOADAVG%% *}" 'BEGIN {exit !(l > 0.5)}'; then
    log "warning: load average is $LOADAVG; other work on the CPUs will skew the numbers"
fi
for n in $AGENT_COUNTS; do
    run_one "$n"
done

report() {
    local date cpu row
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    cpu="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "# Controller ingest benchmark, $date"
    echo
    echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); load average at start: $LOADAVG"
    echo "- $NAMES request names, ~$SAMPLES responses per name per agent per second, 1 snapshot per agent per second, $DURATION per run (CPU over the last $((${DURATION%s} - ${WARMUP%s})) s)"
    if [[ "$PIN" == 1 ]]; then
        echo "- controller pinned to CPU 1, simulator to CPU 0"
    else
        echo "- unpinned"
    fi
    echo
    echo "| agents | controller cores | cores per 100 agents | RSS idle / end / peak MiB | bytes per agent per s | delay p50 / p99 / max ms | delay after last send p99 ms | seconds complete | agents lost | simulator cores |"
    echo "| ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |"
    local n cores idle end peak bytes p50 p99 max sp99 complete lost sim per100
    for row in "${ROWS[@]}"; do
        IFS='|' read -r n cores idle end peak bytes p50 p99 max sp99 complete lost sim <<<"$row"
        if [[ "$cores" == failed ]]; then
            echo "| $n | failed | - | - | - | - | - | - | - | - |"
            continue
        fi
        per100="$(awk -v c="$cores" -v n="$n" 'BEGIN {printf "%.3f", c * 100 / n}')"
        echo "| $n | $cores | $per100 | $idle / $end / $peak | $bytes | $p50 / $p99 / $max | $sp99 | $complete | $lost | $sim |"
    done
    echo
    # Least-squares fit cores = a + b * agents over the runs that lost no agent (a saturated
    # controller's CPU says nothing about the slope); the ceiling is where the
    # fit reaches one core (and half a core, the target's budget).
    printf '%s\n' "${ROWS[@]}" | awk -F'|' '
        $2 != "failed" && $12 == 0 { n++; x = $1; y = $2; sx += x; sy += y; sxx += x * x; sxy += x * y }
        END {
            if (n < 2 || n * sxx == sx * sx) { print "Ceiling: needs at least two agent counts that lost no agent."; exit }
            b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n
            printf "Fit: controller cores = %.4f + %.5f x agents", a, b
            if (b > 0) printf "; projected ceiling: %.0f agents at 0.5 core, %.0f agents at 1 core", (0.5 - a) / b, (1 - a) / b
            print "."
        }'
    echo
    echo "controller cores = controller CPU time (user + sys) / wall time over the window; delay ="
    echo "interval end (when an agent samples second s) -> merged second s received by the submitter;"
    echo "seconds complete = seconds whose first merged snapshot held every agent's requests (not"
    echo "closed by the 2 s grace); agents lost = sessions the controller ended (declared gone"
    echo "while too busy to read their heartbeats); bytes = gzipped protobuf size (tonic gzip, level 6) + 5 bytes gRPC framing per message."
}
mkdir -p bench/out
FILE="bench/out/ingest-$(date -u +%Y%m%d-%H%M%S).md"
report >"$FILE"
cat "$FILE"
log "written to $FILE"
