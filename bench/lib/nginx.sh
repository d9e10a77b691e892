# shellcheck shell=bash
# Private nginx on 127.0.0.1 for bench/memory.sh and bench/soak.sh (sourced, not run).
#
# Unlike bench/throughput.sh (one worker, one port, 4,096 connections), these benchmarks hold
# tens of thousands of idle keep-alive connections, so nginx gets several ports (one client
# address can open at most ~28k connections to one ip:port: the ephemeral port range), several
# workers sharing each port with `reuseport`, and as many descriptors per worker as the hard
# `ulimit -n` allows. Only 127.0.0.1 is ever listened on; the config lives in a temp dir and the
# system nginx is not touched.
#
# Needs: $WORK (a private temp dir) and log() from the caller.
# Sets:  NGINX_PID, NGINX_PORTS (array), NGINX_URLS (array, "http://127.0.0.1:PORT").

NGINX_PID=""
NGINX_PORTS=()
NGINX_URLS=()

# True when something already listens on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_nginx PORTS WORKERS CONNECTIONS_PER_WORKER ACCESS_LOG(path or "off")
# The body is a fixed 100-byte text, as in bench/throughput.sh.
start_nginx() {
    local nports="$1" workers="$2" per_worker="$3" access_log="$4"
    local p
    for p in $(seq 18200 18400); do
        ((${#NGINX_PORTS[@]} < nports)) || break
        port_in_use "$p" || NGINX_PORTS+=("$p")
    done
    if ((${#NGINX_PORTS[@]} < nports)); then
        echo "not enough free ports in 18200-18400 on 127.0.0.1" >&2
        exit 1
    fi
    local body listen="" rlimit
    body="$(printf 'stampede-benchmark-%.0s' 1 2 3 4 5)done!"
    rlimit="$(ulimit -Hn)"
    [[ "$rlimit" == unlimited ]] && rlimit=1048576
    for p in "${NGINX_PORTS[@]}"; do
        listen+="        listen 127.0.0.1:$p reuseport backlog=4096;"$'\n'
        NGINX_URLS+=("http://127.0.0.1:$p")
    done
    local log_line="access_log off;"
    if [[ "$access_log" != off ]]; then
        log_line="log_format tiny '\$status'; access_log $access_log tiny;"
    fi
    mkdir -p "$WORK/nginx/tmp"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $workers;
worker_rlimit_nofile $rlimit;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events {
    worker_connections $per_worker;
    multi_accept on;
}
http {
    $log_line
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    # Idle users must keep their connection for the whole measurement.
    keepalive_timeout 3600s;
    keepalive_requests 100000000;
    server {
$listen
        location / {
            default_type text/plain;
            return 200 "$body";
        }
    }
}
EOF
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
    NGINX_PID=$!
    for p in "${NGINX_PORTS[@]}"; do
        local tries=0
        until port_in_use "$p"; do
            if ! kill -0 "$NGINX_PID" 2>/dev/null || ((++tries > 100)); then
                cat "$WORK/nginx/error.log" >&2 || true
                echo "nginx did not start" >&2
                exit 1
            fi
            sleep 0.05
        done
        local len
        len="$(curl -s --max-time 5 "http://127.0.0.1:$p/" | wc -c || true)"
        if [[ "$len" != 100 ]]; then
            echo "nginx on port $p answered $len bytes, expected 100" >&2
            exit 1
        fi
    done
    log "nginx $(nginx -v 2>&1 | sed 's|.*/||'): ${NGINX_URLS[*]}, $workers workers x $per_worker connections (master $NGINX_PID)"
}

stop_nginx() {
    if [[ -n "$NGINX_PID" ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        local _
        for _ in $(seq 50); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    NGINX_PID=""
}

# Established TCP connections on nginx's side (local port one of NGINX_PORTS).
nginx_established() {
    local filter="" p
    for p in "${NGINX_PORTS[@]}"; do
        filter+="${filter:+ or }sport = :$p"
    done
    ss -Htn state established "( $filter )" 2>/dev/null | wc -l
}

# Resident set of a process and all its descendants, in KiB: "RSS HWM" (VmRSS, VmHWM summed).
tree_pids() {
    local pid="$1" child
    echo "$pid"
    for child in $(pgrep -P "$pid" 2>/dev/null); do
        tree_pids "$child"
    done
}
tree_rss_kb() {
    local rss=0 hwm=0 pid r h
    for pid in $(tree_pids "$1"); do
        read -r r h < <(awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {print r + 0, h + 0}' \
            "/proc/$pid/status" 2>/dev/null || echo "0 0")
        rss=$((rss + r))
        hwm=$((hwm + h))
    done
    echo "$rss $hwm"
}
