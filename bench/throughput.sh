#!/usr/bin/env bash
# Throughput benchmark: stampede vs wrk and oha against a local nginx.
#
# Each generator runs pinned to CPU 0 (taskset -c 0) with 50 keep-alive
# connections against an nginx worker pinned to CPU 1 that returns a fixed
# 100-byte body from 127.0.0.1. For each we record total requests, requests/s
# and the generator's own CPU time (user + sys, from /usr/bin/time), then CPU
# seconds per 100k requests and the ratios to wrk. See docs/benchmarks.md.
#
# Usage (from the repository root):  bash bench/throughput.sh
#
# Environment:
#   BENCH_DURATION     run length per tool, whole seconds like 10s   (default 10s)
#   BENCH_CONNECTIONS  connections / users per tool                  (default 50)
#   BENCH_TOOLS        which generators, in order                    (default "wrk oha stampede")
#   BENCH_ROUNDS       rounds of all tools (default 1). With several, each round runs the tools
#                      in a rotated order, every ratio is taken against the same round's wrk,
#                      and a summary gives each tool's median ratio and its range: the machine
#                      drifts between runs, so one round cannot separate 0.95x from 1.05x.
#   BENCH_PORT         nginx port on 127.0.0.1                       (default: first free from 18080)
#   BENCH_SKIP_INSTALL=1  do not apt-get / cargo install anything
#   BENCH_SKIP_BUILD=1    do not build stampede (use an existing binary)
#
# Only 127.0.0.1 is ever loaded; every run is bounded by BENCH_DURATION.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${BENCH_CONNECTIONS:-50}"
TOOLS="${BENCH_TOOLS:-wrk oha stampede}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
STAMPEDE="$TARGET_DIR/release/stampede"
export PATH="$PATH:/usr/sbin:/sbin:${CARGO_HOME:-$HOME/.cargo}/bin"

if [[ ! "$DURATION" =~ ^[1-9][0-9]*s$ ]] || ((${DURATION%s} > 600)); then
    echo "BENCH_DURATION must be whole seconds between 1s and 600s, e.g. 10s (got '$DURATION')" >&2
    exit 2
fi
# shellcheck source=bench/lib/rounds.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rounds.sh"
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
    command -v wrk >/dev/null || missing+=(wrk)
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
        local pkg candidate
        for pkg in "${missing[@]}"; do
            candidate="$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')"
            if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
                echo "apt has no package '$pkg'" >&2
                exit 1
            fi
        done
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
    fi
    if ! command -v oha >/dev/null && [[ " $TOOLS " == *" oha "* ]]; then
        if [[ "${BENCH_SKIP_INSTALL:-0}" == 1 ]]; then
            log "oha is not installed (BENCH_SKIP_INSTALL=1): it will be skipped"
        else
            log "installing oha from crates.io (cargo install --locked, niced; takes minutes)"
            nice -n 19 cargo install oha --locked -j 1 >&2
        fi
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
        if ! cargo build --release -p stampede-cli >&2; then
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
# 3. nginx on 127.0.0.1, one worker pinned to CPU 1
# ---------------------------------------------------------------------------
PORT_FIRST=18080
NGINX_LISTEN_OPTS=""
# Check the body is exactly 100 bytes.
check_nginx() {
    local len
    len="$(curl -s --max-time 5 "$1" | wc -c || true)"
    if [[ "$len" != 100 ]]; then
        echo "nginx answered $len bytes, expected 100" >&2
        exit 1
    fi
}
# shellcheck source=bench/lib/pinned.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/pinned.sh"

# ---------------------------------------------------------------------------
# 4. Generators
# ---------------------------------------------------------------------------
ROWS=()      # "round|tool|version|requests|rps|user|sys|nginx_cpu|errors"
ROUND=1

run_wrk() {
    measure wrk wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$URL" || return 1
    local out="$WORK/wrk.out" requests rps non2xx socket
    requests="$(awk '/requests in/ {print $1; exit}' "$out")"
    rps="$(awk '/^Requests\/sec:/ {print $2; exit}' "$out")"
    non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF; exit}' "$out")"
    socket="$(sed -n 's/.*Socket errors: //p' "$out")"
    local errors="${non2xx:-0} non-2xx${socket:+; socket: $socket}"
    ROWS+=("$ROUND|wrk|$(wrk -v 2>&1 | head -1 | awk '{print $2}' || true)|$requests|$rps|$USER_S|$SYS_S|$NGINX_CPU|$errors")
}

run_oha() {
    if ! command -v oha >/dev/null; then
        log "SKIP oha: not installed"
        return 0
    fi
    measure oha oha -z "$DURATION" -c "$CONNECTIONS" --no-tui --output-format json "$URL" || return 1
    local out="$WORK/oha.out" ok rps errors
    # Responses received (any status); requests cut off by the deadline are errors.
    ok="$(jq '[.statusCodeDistribution[]] | add // 0' "$out")"
    rps="$(jq --argjson n "$ok" '$n / .summary.total | . * 100 | round / 100' "$out")"
    errors="$(jq -r '[.statusCodeDistribution | to_entries[] | select(.key != "200") | .value] | add // 0 | tostring + " non-200"' "$out")"
    errors="$errors; $(jq -r '[.errorDistribution | to_entries[] | "\(.value) \(.key)"] | join(", ") | if . == "" then "no errors" else . end' "$out")"
    ROWS+=("$ROUND|oha|$(oha --version | awk '{print $2}')|$ok|$rps|$USER_S|$SYS_S|$NGINX_CPU|$errors")
}

run_stampede() {
    if ((STAMPEDE_OK == 0)); then
        ROWS+=("$ROUND|stampede|pending|-|-|-|-|-|skipped: binary not available")
        return 0
    fi
    if ! measure stampede "$STAMPEDE" run bench/get.yaml --target "${URL%/}" \
        --users "$CONNECTIONS" --duration "$DURATION" --quiet --out "$WORK/stampede.json"; then
        ROWS+=("$ROUND|stampede|$("$STAMPEDE" --version | awk '{print $2}')|-|-|-|-|-|skipped: run failed")
        return 0
    fi
    local requests rps errors
    requests="$(jq '.summary.requests' "$WORK/stampede.json")"
    rps="$(jq '.summary.rps * 100 | round / 100' "$WORK/stampede.json")"
    errors="$(jq -r '"\(.summary.failures) failed checks; \(.summary.errors) transport errors"' "$WORK/stampede.json")"
    ROWS+=("$ROUND|stampede|$("$STAMPEDE" --version | awk '{print $2}')|$requests|$rps|$USER_S|$SYS_S|$NGINX_CPU|$errors")
}

# ---------------------------------------------------------------------------
# 5. Report
# ---------------------------------------------------------------------------
report() {
    local date cpu
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    cpu="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    # wrk's figures per round, the base of that round's ratios.
    local -A wrk_cpu100k=() wrk_rps=()
    local row round tool version requests rps user sys ncpu errors cpu100k
    for row in "${ROWS[@]}"; do
        IFS='|' read -r round tool version requests rps user sys ncpu errors <<<"$row"
        if [[ "$tool" == wrk && "$requests" =~ ^[0-9]+$ ]] && ((requests > 0)); then
            wrk_cpu100k[$round]="$(awk -v u="$user" -v s="$sys" -v n="$requests" 'BEGIN {printf "%.3f", (u + s) * 100000 / n}')"
            wrk_rps[$round]="$rps"
        fi
    done
    local ratios="$WORK/ratios.txt"  # "tool cpu_ratio rps_ratio", one line per tool and round
    local perreq="$WORK/perreq.txt"  # "tool user_us sys_us", µs of CPU per request, per round
    : >"$ratios"
    : >"$perreq"
    {
        echo "# Throughput benchmark, $date"
        echo
        echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
        echo "- load average at start: $LOADAVG"
        echo "- target: nginx $(nginx -v 2>&1 | sed 's|.*/||'), 1 worker on CPU 1, 100-byte body, keep-alive, $URL"
        echo "- generators on CPU 0, $CONNECTIONS connections, $DURATION each, $ROUNDS round(s)"
        echo
        echo "| round | tool | version | requests | req/s | req/s vs wrk | CPU user s | CPU sys s | CPU-s / 100k req | CPU / 100k vs wrk | nginx CPU | errors |"
        echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        for row in "${ROWS[@]}"; do
            IFS='|' read -r round tool version requests rps user sys ncpu errors <<<"$row"
            if [[ "$requests" =~ ^[0-9]+$ ]] && ((requests > 0)); then
                cpu100k="$(awk -v u="$user" -v s="$sys" -v n="$requests" 'BEGIN {printf "%.3f", (u + s) * 100000 / n}')"
                awk -v t="$tool" -v u="$user" -v s="$sys" -v n="$requests" \
                    'BEGIN {printf "%s %.3f %.3f\n", t, u * 1e6 / n, s * 1e6 / n}' >>"$perreq"
                local r_cpu="-" r_rps="-"
                if [[ -n "${wrk_cpu100k[$round]:-}" ]]; then
                    r_cpu="$(awk -v a="$cpu100k" -v b="${wrk_cpu100k[$round]}" 'BEGIN {printf "%.2fx", a / b}')"
                    r_rps="$(awk -v a="$rps" -v b="${wrk_rps[$round]}" 'BEGIN {printf "%.2fx", a / b}')"
                    echo "$tool ${r_cpu%x} ${r_rps%x}" >>"$ratios"
                fi
                echo "| $round | $tool | $version | $requests | $rps | $r_rps | $user | $sys | $cpu100k | $r_cpu | $ncpu | $errors |"
            else
                echo "| $round | $tool | $version | - | - | - | - | - | - | - | - | $errors |"
            fi
        done
        echo
        echo "CPU-s = user + sys seconds of the generator process (all its threads), from /usr/bin/time."
        echo "nginx CPU = the worker's CPU time over the run as a share of one core; near 100 % means"
        echo "the server, not the generator, limited req/s. Ratios are to wrk in the same round."
        if ((ROUNDS > 1)); then
            echo
            echo "Over the $ROUNDS rounds (median, and the range in brackets):"
            echo
            echo "| tool | rounds | CPU / 100k vs wrk | req/s vs wrk |"
            echo "| --- | ---: | ---: | ---: |"
            for tool in $TOOLS; do
                [[ "$tool" == wrk ]] && continue
                local n mc lo hi mr rlo rhi
                read -r n mc lo hi < <(median_of "$ratios" "$tool" 2)
                if ((n == 0)); then
                    echo "| $tool | 0 | - | - |"
                    continue
                fi
                read -r n mr rlo rhi < <(median_of "$ratios" "$tool" 3)
                printf '| %s | %d | **%.2fx** (%.2fx-%.2fx) | %.2fx (%.2fx-%.2fx) |\n' \
                    "$tool" "$n" "$mc" "$lo" "$hi" "$mr" "$rlo" "$rhi"
            done
            # Where the CPU goes: user time is the generator's own code, kernel time mostly the
            # TCP path every generator shares (see docs/benchmarks.md).
            echo
            echo "CPU per request in µs, median over the rounds (range):"
            echo
            echo "| tool | user | kernel |"
            echo "| --- | ---: | ---: |"
            for tool in $TOOLS; do
                local nu mu ulo uhi ns ms slo shi
                read -r nu mu ulo uhi < <(median_of "$perreq" "$tool" 2)
                ((nu == 0)) && continue
                read -r ns ms slo shi < <(median_of "$perreq" "$tool" 3)
                printf '| %s | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) |\n' \
                    "$tool" "$mu" "$ulo" "$uhi" "$ms" "$slo" "$shi"
            done
        fi
    } >"$WORK/report.md"
    mkdir -p bench/out
    local file
    file="bench/out/throughput-$(date -u +%Y%m%d-%H%M%S).md"
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
read -r -a TOOL_LIST <<<"$TOOLS"
for tool in "${TOOL_LIST[@]}"; do
    case "$tool" in
        wrk | oha | stampede) ;;
        *) echo "unknown tool '$tool' in BENCH_TOOLS" >&2; exit 2 ;;
    esac
done
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    # Round r starts with the r-th tool, so no tool always runs first (or last).
    n=${#TOOL_LIST[@]}
    for ((i = 0; i < n; i++)); do
        tool="${TOOL_LIST[$(((ROUND - 1 + i) % n))]}"
        log "round $ROUND/$ROUNDS: $tool for $DURATION"
        case "$tool" in
            wrk) run_wrk || ROWS+=("$ROUND|wrk|-|-|-|-|-|-|run failed") ;;
            oha) run_oha || ROWS+=("$ROUND|oha|-|-|-|-|-|-|run failed") ;;
            stampede) run_stampede ;;
        esac
    done
done
report
