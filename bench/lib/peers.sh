# shellcheck shell=bash
# Idle-user scripts for the generators bench/memory.sh compares (sourced, not run).
#
# Every tool gets the same behaviour: N users started at MEM_SPAWN_RATE per second, each sends
# one GET to one of the nginx URLs (user i to URL i mod P, so P ports share the connections),
# then pauses for an hour holding its keep-alive connection. Each writer below takes
# (DIR N RATE DURATION_S URL...) and prints the command line to run, one argument per line.

# stampede, one connection per user (`per_user`), or a shared pool when $MEM_POOL is set.
write_stampede() {
    local dir="$1" n="$2" rate="$3" secs="$4" pool="$5"
    shift 5
    local conn="connections: per_user"
    [[ -n "$pool" ]] && conn="connections: shared"$'\n'"  pool_size: $pool"
    {
        echo "# Written by bench/memory.sh: $n idle users, one request each, then 1 h of think time."
        echo "version: 1"
        echo "target: $1"
        echo "http:"
        echo "  $conn"
        echo "  connect_timeout: 30s"
        echo "  timeout: 60s"
        echo "load:"
        echo "  users: $n"
        echo "  spawn_rate: $rate/s"
        echo "  duration: ${secs}s"
        echo "  jitter_start: false"
        echo "  graceful_stop: 1s"
        echo "scenarios:"
        local url
        for url in "$@"; do
            echo "  - name: idle-${url##*:}"
            echo "    think_time: 1h"
            echo "    steps:"
            echo "      - get: $url/"
            echo "        name: one request"
            echo "        expect: { status: 200 }"
        done
    } >"$dir/idle.yaml"
    printf '%s\n' "$STAMPEDE" run "$dir/idle.yaml" --quiet --out "$dir/result.json"
}

# k6: a ramping-vus scenario (0 -> N at the same rate, then held), one http.get, sleep(3600).
write_k6() {
    local dir="$1" n="$2" rate="$3" secs="$4"
    shift 4
    local ramp=$(((n + rate - 1) / rate)) urls
    urls="$(printf '"%s/",' "$@")"
    cat >"$dir/idle.js" <<EOF
// Written by bench/memory.sh: $n idle VUs, one request each, then an hour of sleep.
import http from 'k6/http';
import { sleep } from 'k6';

const urls = [${urls%,}];

export const options = {
  scenarios: {
    idle: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '${ramp}s', target: $n },
        { duration: '$((secs - ramp))s', target: $n },
      ],
      gracefulRampDown: '0s',
      gracefulStop: '0s',
    },
  },
};

export default function () {
  http.get(urls[__VU % urls.length]);
  sleep(3600);
}

export function handleSummary(data) {
  return { '$dir/summary.json': JSON.stringify(data) };
}
EOF
    printf '%s\n' "$K6" run --quiet --no-usage-report "$dir/idle.js"
}

# locust: HttpUser (requests), wait_time constant(3600), headless, -u N -r RATE -t DURATION.
write_locust() {
    local dir="$1" n="$2" rate="$3" secs="$4"
    shift 4
    cat >"$dir/idle.py" <<EOF
# Written by bench/memory.sh: $n idle users, one request each, then an hour of waiting.
import itertools

from locust import HttpUser, constant, task

URLS = "$*".split()
_next = itertools.count()


class Idle(HttpUser):
    host = URLS[0]
    wait_time = constant(3600)

    def on_start(self):
        self.client.base_url = URLS[next(_next) % len(URLS)]

    @task
    def one_request(self):
        self.client.get("/")
EOF
    printf '%s\n' "$LOCUST" -f "$dir/idle.py" --headless -u "$n" -r "$rate" -t "${secs}s" \
        --stop-timeout 0 --only-summary --loglevel WARNING --csv "$dir/locust"
}

# Errors seen by the tool, as "requests errors" (after it exited).
tool_errors() {
    local tool="$1" dir="$2"
    case "$tool" in
        stampede*)
            jq -r '"\(.summary.requests) \(.summary.errors + .summary.failures)"' "$dir/result.json" 2>/dev/null ;;
        k6)
            jq -r '"\(.metrics.http_reqs.values.count // 0) \(.metrics.http_req_failed.values.passes // 0)"' \
                "$dir/summary.json" 2>/dev/null ;;
        locust)
            awk -F, '$2 == "Aggregated" {print $3, $4}' "$dir/locust_stats.csv" 2>/dev/null ;;
    esac
}

# Versions for the report.
tool_version() {
    case "$1" in
        stampede*) "$STAMPEDE" --version | awk '{print $2}' ;;
        k6) "$K6" version | awk '{print $2; exit}' ;;
        locust) "$LOCUST" --version | awk '{print $2; exit}' ;;
    esac
}
