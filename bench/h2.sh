#!/usr/bin/env bash
# HTTP/2 benchmark: stampede vs h2load against a local nginx speaking cleartext
# HTTP/2 with prior knowledge (h2c).
#
# Each generator runs pinned to CPU 0 (taskset -c 0) with 50 connections, one
# request in flight on each (h2load -m 1; stampede: 50 users, one HTTP/2
# connection per user), against an nginx worker pinned to CPU 1 that returns a
# fixed 100-byte body from 127.0.0.1. For each we record total requests,
# requests/s and the generator's own CPU time (user + sys, from /usr/bin/time),
# then CPU seconds per 100k requests and the ratios to h2load. See
# docs/benchmarks.md.
#
# Usage (from the repository root):  bash bench/h2.sh
#
# Environment:
#   BENCH_DURATION     run length per tool, whole seconds like 10s   (default 10s)
#   BENCH_CONNECTIONS  connections / users per tool                  (default 50)
#   BENCH_TOOLS        which generators, in order                    (default "h2load stampede")
#   BENCH_PORT         nginx port on 127.0.0.1                       (default: first free from 18180)
#   BENCH_SKIP_INSTALL=1  do not apt-get anything
#   BENCH_SKIP_BUILD=1    do not build stampede (use an existing binary)
#
# Only 127.0.0.1 is ever loaded; every run is bounded by BENCH_DURATION.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${BENCH_CONNECTIONS:-50}"
TOOLS="${BENCH_TOOLS:-h2load stampede}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
STAMPEDE="$TARGET_DIR/release/stampede"
export PATH="$PATH:/usr/sbin:/sbin"

if [[ ! "$DURATION" =~ ^[1-9][0-9]*s$ ]] || ((${DURATION%s} > 600)); then
    echo "BENCH_DURATION must be whole seconds between 1s and 600s, e.g. 10s (got '$DURATION')" >&2
    exit 2
fi
if [[ ! "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || ((CONNECTIONS > 1000)); then
    echo "BENCH_CONNECTIONS must be 1..1000 (got '$CONNECTIONS')" >&2
    exit 2
fi
if (($(nproc) < 2)); then
    echo "need at least 2 CPUs (generator on CPU 0, nginx on CPU 1)" >&2
    exit 2
fi

log() { printf '==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# 1. Tools
# ---------------------------------------------------------------------------
install_tools() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    command -v h2load >/dev/null || missing+=(nghttp2-client)
    command -v jq >/dev/null || missing+=(jq)
    command -v curl >/dev/null || missing+=(curl)
    command -v taskset >/dev/null || missing+=(util-linux)
    [[ -x /usr/bin/time ]] || missing+=(time)
    if ((${#missing[@]})); then
        if [[ "${BENCH_SKIP_INSTALL:-0}" == 1 ]]; then
            echo "missing: ${missing[*]} (and BENCH_SKIP_INSTALL=1)" >&2
            exit 1
        fi
        local sudo=()
        if ((EUID != 0)); then sudo=(sudo); fi
        log "installing ${missing[*]} with apt-get"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
    fi
    if ! nginx -V 2>&1 | grep -q -- --with-http_v2_module; then
        echo "this nginx has no HTTP/2 module (--with-http_v2_module)" >&2
        exit 1
    fi
}

# ---------------------------------------------------------------------------
# 2. stampede
# ---------------------------------------------------------------------------
STAMPEDE_OK=0
build_stampede() {
    [[ " $TOOLS " == *" stampede "* ]] || return 0
    if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
        log "building stampede (release)"
        if ! nice cargo build --release -p stampede-cli >&2; then
            log "SKIP stampede: 'cargo build --release -p stampede-cli' failed"
            return 0
        fi
    fi
    if "$STAMPEDE" --version >/dev/null 2>&1; then
        STAMPEDE_OK=1
    else
        log "SKIP stampede: $STAMPEDE --version does not run (the CLI is not built yet?)"
    fi
}

# ---------------------------------------------------------------------------
# 3. nginx on 127.0.0.1 speaking h2c, one worker pinned to CPU 1
# ---------------------------------------------------------------------------
PORT_FIRST=18180
NGINX_LISTEN_OPTS="http2"
# Check it answers HTTP/2 with prior knowledge, with exactly 100 bytes.
check_nginx() {
    local answer
    answer="$(curl -s --max-time 5 --http2-prior-knowledge -o /dev/null \
        -w '%{http_version} %{size_download}' "$1" || true)"
    if [[ "$answer" != "2 100" ]]; then
        echo "nginx answered '$answer' (HTTP version, bytes), expected '2 100'" >&2
        exit 1
    fi
}
# shellcheck source=bench/lib/pinned.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/pinned.sh"

# ---------------------------------------------------------------------------
# 4. Generators
# ---------------------------------------------------------------------------
ROWS=()      # "tool|version|requests|rps|user|sys|nginx_cpu|errors"
BASE_CPU100K=""
BASE_RPS=""

run_h2load() {
    # -c connections, -m 1 stream in flight per connection, -t 1 thread, -D seconds.
    measure h2load h2load -c "$CONNECTIONS" -m 1 -t 1 -D "${DURATION%s}" "$URL" || return 1
    local out="$WORK/h2load.out" requests rps errors
    requests="$(awk '/^requests:/ {print $8; exit}' "$out")"   # "succeeded"
    rps="$(awk '/^finished in/ {gsub(",", "", $4); print $4; exit}' "$out")"
    errors="$(awk '/^requests:/ {print $10 " failed, " $12 " errored, " $14 " timeout"; exit}' "$out")"
    local version
    version="$(h2load --version 2>&1 | awk '{print $2; exit}')"
    ROWS+=("h2load|$version|$requests|$rps|$USER_S|$SYS_S|$NGINX_CPU|$errors")
}

run_stampede() {
    if ((STAMPEDE_OK == 0)); then
        ROWS+=("stampede|pending|-|-|-|-|-|skipped: binary not available")
        return 0
    fi
    local version
    version="$("$STAMPEDE" --version | awk '{print $2}')"
    if ! measure stampede "$STAMPEDE" run bench/h2.yaml --target "${URL%/}" \
        --users "$CONNECTIONS" --duration "$DURATION" --quiet --out "$WORK/stampede.json"; then
        ROWS+=("stampede|$version|-|-|-|-|-|skipped: run failed")
        return 0
    fi
    local requests rps errors
    requests="$(jq '.summary.requests' "$WORK/stampede.json")"
    rps="$(jq '.summary.rps * 100 | round / 100' "$WORK/stampede.json")"
    errors="$(jq -r '"\(.summary.failures) failed checks; \(.summary.errors) transport errors"' "$WORK/stampede.json")"
    ROWS+=("stampede|$version|$requests|$rps|$USER_S|$SYS_S|$NGINX_CPU|$errors")
}

# ---------------------------------------------------------------------------
# 5. Report
# ---------------------------------------------------------------------------
report() {
    local date cpu
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    cpu="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    {
        echo "# HTTP/2 (h2c) benchmark, $date"
        echo
        echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
        echo "- load average at start: $LOADAVG"
        echo "- target: nginx $(nginx -v 2>&1 | sed 's|.*/||'), 1 worker on CPU 1, h2c (prior knowledge), 100-byte body, $URL"
        echo "- generators on CPU 0, $CONNECTIONS connections with 1 request in flight each, $DURATION each"
        echo
        echo "| tool | version | requests | req/s | req/s vs h2load | CPU user s | CPU sys s | CPU-s / 100k req | CPU / 100k vs h2load | nginx CPU | errors |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        local row tool version requests rps user sys ncpu errors cpu100k
        for row in "${ROWS[@]}"; do
            IFS='|' read -r tool version requests rps user sys ncpu errors <<<"$row"
            if [[ "$requests" =~ ^[0-9]+$ ]] && ((requests > 0)); then
                cpu100k="$(awk -v u="$user" -v s="$sys" -v n="$requests" 'BEGIN {printf "%.3f", (u + s) * 100000 / n}')"
                if [[ "$tool" == h2load ]]; then
                    BASE_CPU100K="$cpu100k"
                    BASE_RPS="$rps"
                fi
                local r_cpu="-" r_rps="-"
                if [[ -n "$BASE_CPU100K" ]]; then
                    r_cpu="$(awk -v a="$cpu100k" -v b="$BASE_CPU100K" 'BEGIN {printf "%.2fx", a / b}')"
                    r_rps="$(awk -v a="$rps" -v b="$BASE_RPS" 'BEGIN {printf "%.2fx", a / b}')"
                fi
                echo "| $tool | $version | $requests | $rps | $r_rps | $user | $sys | $cpu100k | $r_cpu | $ncpu | $errors |"
            else
                echo "| $tool | $version | - | - | - | - | - | - | - | - | $errors |"
            fi
        done
        echo
        echo "CPU-s = user + sys seconds of the generator process (all its threads), from /usr/bin/time."
        echo "nginx CPU = the worker's CPU time over the run as a share of one core; near 100 % means"
        echo "the server, not the generator, limited req/s."
    } >"$WORK/report.md"
    mkdir -p bench/out
    local file
    file="bench/out/h2-$(date -u +%Y%m%d-%H%M%S).md"
    cp "$WORK/report.md" "$file"
    cat "$WORK/report.md"
    log "written to $file"
}

LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v l="${LOADAVG%% *}" 'BEGIN {exit !(l > 0.5)}'; then
    log "warning: load average is $LOADAVG; other work on CPU 0/1 will skew the numbers"
fi
install_tools
build_stampede
start_nginx
for tool in $TOOLS; do
    case "$tool" in
        h2load) log "h2load for $DURATION"; run_h2load || ROWS+=("h2load|-|-|-|-|-|-|run failed") ;;
        stampede) log "stampede for $DURATION"; run_stampede ;;
        *) echo "unknown tool '$tool' in BENCH_TOOLS" >&2; exit 2 ;;
    esac
done
report
