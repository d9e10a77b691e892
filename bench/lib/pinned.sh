# shellcheck shell=bash
# A private one-worker nginx on 127.0.0.1 pinned to CPU 1, and a measurement wrapper that runs a
# generator pinned to CPU 0: shared by bench/throughput.sh (HTTP/1.1) and bench/h2.sh (h2c).
# Sourced, not run. The config lives in a temp dir; the system nginx is not touched.
#
# Needs from the caller: log(), DURATION, and before start_nginx: PORT_FIRST (first port tried),
# NGINX_LISTEN_OPTS ("" or "http2"), and a function check_nginx URL that exits non-zero when the
# answer is wrong.
# Sets: WORK, NGINX_PID, WORKER_PID, PORT, URL; measure() sets USER_S SYS_S NGINX_CPU.

WORK="$(mktemp -d "${TMPDIR:-/tmp}/stampede-bench.XXXXXX")"
NGINX_PID=""
cleanup() {
    local rc=$?
    if [[ -n "$NGINX_PID" ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        log "nginx stopped"
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    if [[ -n "${BENCH_PORT:-}" ]]; then
        echo "$BENCH_PORT"
        return
    fi
    local p last=$((PORT_FIRST + 50))
    for p in $(seq "$PORT_FIRST" "$last"); do
        if ! port_in_use "$p"; then
            echo "$p"
            return
        fi
    done
    echo "no free port in $PORT_FIRST-$last" >&2
    exit 1
}

# The fixed 100-byte response body (a caller may set BODY and BODY_TYPE first).
if [[ -z "${BODY:-}" ]]; then
    BODY="$(printf 'stampede-benchmark-%.0s' 1 2 3 4 5)"  # 5 x 19 = 95 bytes
    BODY="${BODY}done!"                                    # 100 bytes
fi
BODY_TYPE="${BODY_TYPE:-text/plain}"

start_nginx() {
    PORT="$(pick_port)"
    mkdir -p "$WORK/nginx/tmp"
    # `listen ... http2` without `ssl` is HTTP/2 with prior knowledge (nginx 1.22's syntax; newer
    # versions also accept it). keepalive_requests also bounds requests per HTTP/2 connection.
    cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    keepalive_timeout 120s;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$PORT${NGINX_LISTEN_OPTS:+ $NGINX_LISTEN_OPTS};
        location / {
            default_type $BODY_TYPE;
            return 200 '$BODY';
        }
    }
}
CONF
    taskset -c 1 nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
    NGINX_PID=$!
    for _ in $(seq 100); do
        if port_in_use "$PORT"; then break; fi
        if ! kill -0 "$NGINX_PID" 2>/dev/null; then
            cat "$WORK/nginx/error.log" >&2 || true
            echo "nginx did not start" >&2
            exit 1
        fi
        sleep 0.05
    done
    URL="http://127.0.0.1:$PORT/"
    check_nginx "$URL"
    WORKER_PID="$(pgrep -P "$NGINX_PID" | head -1)"
    log "nginx${NGINX_LISTEN_OPTS:+ ($NGINX_LISTEN_OPTS)} on $URL (master $NGINX_PID, worker $WORKER_PID, CPU 1)"
}

# CPU ticks (utime + stime) of a process so far.
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK="$(getconf CLK_TCK)"

# Runs "$@" pinned to CPU 0 under /usr/bin/time; sets USER_S SYS_S NGINX_CPU (read by the
# caller, hence SC2034).
# shellcheck disable=SC2034
measure() {
    local name="$1"
    shift
    local before after
    before="$(proc_ticks "$WORKER_PID")"
    if ! /usr/bin/time -f '%U %S' -o "$WORK/$name.time" taskset -c 0 "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        log "$name failed:"
        tail -20 "$WORK/$name.err" >&2
        return 1
    fi
    after="$(proc_ticks "$WORKER_PID")"
    read -r USER_S SYS_S <"$WORK/$name.time"
    # nginx worker CPU as a share of one core over the run.
    NGINX_CPU="$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v d="${DURATION%s}" \
        'BEGIN {printf "%.0f%%", 100 * t / hz / d}')"
}
