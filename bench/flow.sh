#!/usr/bin/env bash
# Scenario-language cost benchmark: what extraction, checks, templating and scripting cost per
# request, measured as the generator's CPU per 100k requests against the same pinned nginx.
#
# Runs, each pinned to CPU 0 against one nginx worker on CPU 1 that answers every path with the
# same 100-byte JSON document (keep-alive, 127.0.0.1 only):
#   wrk       GET /, for scale
#   plain     stampede, bench/get.yaml (GET / with a status check)
#   flow      stampede, bench/flow.yaml (3 steps: JSONPath extraction, templated URL, header and
#             JSON body; status, body, JSON and regex checks)
#   script    stampede, bench/script.yaml (plain GET + a small Lua step per iteration)
# and reports CPU-s per 100k requests, the ratio to wrk, and the extra CPU per request (µs) of
# `flow` and per script step of `script` over `plain`. See docs/benchmarks.md.
#
# Usage (from the repository root):  bash bench/flow.sh
# Environment: BENCH_DURATION (default 10s), BENCH_CONNECTIONS (default 50), BENCH_PORT,
#   BENCH_SKIP_INSTALL=1, BENCH_SKIP_BUILD=1, BENCH_ROUNDS (default 1; several rounds run every
#   scenario once per round in a rotated order and report the median extra cost over `plain`
#   of the same round), as bench/throughput.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${BENCH_CONNECTIONS:-50}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
STAMPEDE="${STAMPEDE:-$TARGET_DIR/release/stampede}"
export PATH="$PATH:/usr/sbin:/sbin"

if [[ ! "$DURATION" =~ ^[1-9][0-9]*s$ ]] || ((${DURATION%s} > 600)); then
    echo "BENCH_DURATION must be whole seconds between 1s and 600s (got '$DURATION')" >&2
    exit 2
fi
if [[ ! "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || ((CONNECTIONS > 1000)); then
    echo "BENCH_CONNECTIONS must be 1..1000 (got '$CONNECTIONS')" >&2
    exit 2
fi
# shellcheck source=bench/lib/rounds.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rounds.sh"
log() { printf '==> %s\n' "$*" >&2; }

missing=()
for tool in nginx wrk jq curl taskset; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    if [[ "${BENCH_SKIP_INSTALL:-0}" == 1 ]]; then
        echo "missing: ${missing[*]} (and BENCH_SKIP_INSTALL=1)" >&2
        exit 1
    fi
    pkgs=("${missing[@]/taskset/util-linux}")
    sudo=()
    if ((EUID != 0)); then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${pkgs[@]}" >&2
fi
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "building stampede (release)"
    cargo build --release -p stampede-cli >&2
fi

# A 100-byte JSON document: {"token":"…","ok":true,"items":[…]}.
BODY='{"token":"abc123","ok":true,"items":[1,2,3],"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'
BODY_TYPE=application/json
PORT_FIRST=18180
NGINX_LISTEN_OPTS=""
check_nginx() {
    local got
    got="$(curl -s --max-time 5 "$1")"
    if [[ "$(jq -r .token <<<"$got")" != abc123 ]]; then
        echo "nginx answered '$got', expected the JSON document" >&2
        exit 1
    fi
}
# shellcheck source=bench/lib/pinned.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/pinned.sh"
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
start_nginx

RUNS=(wrk plain:get flow:flow script:script)
ROWS=() # round|name|requests|user|sys|errors
for ((round = 1; round <= ROUNDS; round++)); do
    # Round r starts with the r-th run, so no run always goes first.
    for ((i = 0; i < ${#RUNS[@]}; i++)); do
        run="${RUNS[$(((round - 1 + i) % ${#RUNS[@]}))]}"
        log "round $round/$ROUNDS: ${run%%:*} for $DURATION"
        if [[ "$run" == wrk ]]; then
            measure wrk wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "$URL"
            ROWS+=("$round|wrk|$(awk '/requests in/ {print $1; exit}' "$WORK/wrk.out")|$USER_S|$SYS_S|-")
            continue
        fi
        name="${run%%:*}"
        file="bench/${run#*:}.yaml"
        measure "$name" "$STAMPEDE" run "$file" --target "${URL%/}" --users "$CONNECTIONS" \
            --duration "$DURATION" --quiet --out "$WORK/$name.json"
        ROWS+=("$round|$name|$(jq .summary.requests "$WORK/$name.json")|$USER_S|$SYS_S|$(jq -r \
            '"\(.summary.failures) failed checks, \(.summary.errors) errors"' "$WORK/$name.json")")
    done
done

cpu100k() { awk -v u="$2" -v s="$3" -v n="$1" 'BEGIN {printf "%.3f", (u + s) * 100000 / n}'; }
{
    echo "# Scenario-language cost, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "- machine: $(nproc) CPUs, load average at start $LOADAVG; nginx 1 worker on CPU 1, 100-byte JSON body"
    echo "- generators on CPU 0, $CONNECTIONS connections, $DURATION each, $ROUNDS round(s)"
    echo
    echo "| round | run | requests | CPU-s / 100k req | vs wrk | extra CPU per request vs plain | errors |"
    echo "| ---: | --- | ---: | ---: | ---: | ---: | --- |"
    declare -A wrk_c=() plain_c=()
    for row in "${ROWS[@]}"; do
        IFS='|' read -r round name requests user sys errors <<<"$row"
        c="$(cpu100k "$requests" "$user" "$sys")"
        [[ "$name" == wrk ]] && wrk_c[$round]="$c"
        [[ "$name" == plain ]] && plain_c[$round]="$c"
    done
    : >"$WORK/extra.txt"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r round name requests user sys errors <<<"$row"
        c="$(cpu100k "$requests" "$user" "$sys")"
        ratio="$(awk -v a="$c" -v b="${wrk_c[$round]:-0}" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else printf "-"}')"
        extra="-"
        if [[ -n "${plain_c[$round]:-}" && "$name" != plain && "$name" != wrk ]]; then
            # For `script`, each request is followed by one script step (not itself a request).
            us="$(awk -v a="$c" -v b="${plain_c[$round]}" 'BEGIN {printf "%.2f", (a - b) * 10}')"
            echo "$name $us" >>"$WORK/extra.txt"
            extra="$us µs"
            [[ "$name" == script ]] && extra="$extra per script step"
        fi
        echo "| $round | $name | $requests | $c | $ratio | $extra | $errors |"
    done
    if ((ROUNDS > 1)); then
        echo
        echo "Extra CPU over \`plain\` of the same round, median over the $ROUNDS rounds (range):"
        echo
        for name in flow script; do
            read -r n m lo hi < <(median_of "$WORK/extra.txt" "$name" 2)
            ((n > 0)) || continue
            per="per request"
            [[ "$name" == script ]] && per="per script step"
            printf -- '- %s: **%.2f µs** %s (%.2f to %.2f µs)\n' "$name" "$m" "$per" "$lo" "$hi"
        done
    fi
} | tee "bench/out/flow-$(date -u +%Y%m%dT%H%M%SZ).md"
