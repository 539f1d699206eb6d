# shellcheck shell=bash
# Sourced by bench/proxy/run: the configs of the backends and the three proxies, and starting them.
# Each proxy gets the same pool of two backends, round robin, upstream keep-alive, and the same
# number of workers; with LOGS=on each writes one JSON access-log line per request to a file.
# Uses run's globals (WORK, ports, WORKERS, IDLE_CONNS, FD_LIMIT, HAPROXY_*) and helpers (start_bg,
# wait_ready, check_target, die, log).

# nginx_head DIR WORKERS : the part of an nginx config that keeps it inside DIR.
nginx_head() {
  cat <<EOF
daemon off;
master_process on;
user $(id -un) $(id -gn);
worker_processes $2;
worker_rlimit_nofile $FD_LIMIT;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections $(( IDLE_CONNS + 6384 )); }
EOF
}

nginx_temp_paths() {
  cat <<EOF
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
EOF
}

start_backends() {
  local dir="$WORK/backends"
  mkdir -p "$dir/www"
  head -c "$BIG_BYTES" /dev/urandom >"$dir/www/big"
  {
    nginx_head "$dir" 1
    cat <<EOF
http {
    access_log off;
    default_type text/plain;
    sendfile on;
    keepalive_timeout 75s;
    keepalive_requests 100000000;
$(nginx_temp_paths "$dir")
    server {
        listen 127.0.0.1:$B1_PORT;
        root $dir/www;
        location = /big { }
        location / { return 200 "hello from backend 1\n"; }
    }
    server {
        listen 127.0.0.1:$B2_PORT;
        root $dir/www;
        location = /big { }
        location / { return 200 "hello from backend 2\n"; }
    }
}
EOF
  } >"$dir/nginx.conf"
  start_bg backends nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
  wait_ready backends "$B1_PORT"
  wait_ready backends "$B2_PORT"
}

# access_log_of TARGET : the file a proxy writes its access log to in the logs case.
access_log_of() { printf '%s/logs/%s.access.log\n' "$WORK" "$1"; }

# start_switchyard LOGS [NAME PORT ADMIN TRACING] : LOGS is on or off; NAME (default switchyard) names the
# process, PORT and ADMIN its listener and admin ports, and TRACING, if given, is appended as a [tracing] section.
start_switchyard() {
  local name="${2:-switchyard}" port="${3:-$SWITCHYARD_PORT}" admin="${4:-$ADMIN_PORT}" tracing="${5:-}"
  local cfg="$WORK/$name.toml" access=off
  [[ "$1" == on ]] && access="$(access_log_of "$name")"
  cat >"$cfg" <<EOF
[admin]
bind = "127.0.0.1:$admin"
access_log = "$access"

[runtime]
workers = $WORKERS

[[listeners]]
name = "web"
bind = "127.0.0.1:$port"

[[routes]]
pool = "bench"

[pools.bench]
balance = "round_robin"
max_connections = $(( IDLE_CONNS + 10000 ))
queue = 1000
timeouts = { connect = "1s", request = "10s" }
EOF
  local i ports=("$B1_PORT" "$B2_PORT")
  for i in 1 2; do
    printf '\n[[pools.bench.servers]]\nname = "b%s"\naddress = "127.0.0.1:%s"\n' "$i" "${ports[i - 1]}" >>"$cfg"
  done
  [[ -n "$tracing" ]] && printf '\n[tracing]\n%s\n' "$tracing" >>"$cfg"
  start_bg "$name" "$SWITCHYARD_BIN" serve --config "$cfg" --state "$WORK/$name-state"
  wait_ready "$name" "$port" \
    "\`switchyard serve\` ($name) did not come up; SKIP_SWITCHYARD=1 benchmarks the others"
}

# nginx_access_log : nginx's log_format with the fields of Switchyard's JSON line, and the
# access_log directive that writes it. Maps turn nginx's variables into the same values.
nginx_access_log() {
  local buffer=""
  [[ -n "$NGINX_LOG_BUFFER" ]] && buffer=" buffer=$NGINX_LOG_BUFFER flush=1s"
  cat <<EOF
    map \$upstream_addr \$sy_server {
        "127.0.0.1:$B1_PORT" b1;
        "127.0.0.1:$B2_PORT" b2;
        default "";
    }
    map \$upstream_addr \$sy_attempts {
        "~,.*," 3;
        "~," 2;
        default 1;
    }
    map \$request_time \$sy_duration_ms {
        "~^0\.0*(?<ms>[0-9]+)\$" \$ms;
        "~^(?<s>[1-9][0-9]*)\.(?<ms>[0-9]+)\$" \$s\$ms;
        default 0;
    }
    map \$upstream_status \$sy_upstream_status {
        "~^(?<st>[0-9]+)\$" \$st;
        default null;
    }
    log_format switchyard escape=json '{"ts":"\$time_iso8601","request_id":"\$request_id",'
        '"client":"\$remote_addr:\$remote_port","listener":"web","method":"\$request_method",'
        '"path":"\$uri","host":"\$host","protocol":"\$server_protocol","status":\$status,'
        '"pool":"\$proxy_host","server":"\$sy_server","server_address":"\$upstream_addr",'
        '"upstream_status":\$sy_upstream_status,"duration_ms":\$sy_duration_ms,'
        '"bytes_sent":\$body_bytes_sent,"attempts":\$sy_attempts}';
    access_log $(access_log_of nginx) switchyard$buffer;
EOF
}

# start_nginx_proxy LOGS : LOGS is on or off.
start_nginx_proxy() {
  local dir="$WORK/nginx" logs buffers=""
  if [[ "$NGINX_PROXY_BUFFERS" != default ]]; then
    buffers="            proxy_buffers $NGINX_PROXY_BUFFERS;
            proxy_buffer_size ${NGINX_PROXY_BUFFERS#* };"
  fi
  mkdir -p "$dir"
  if [[ "$1" == on ]]; then logs="$(nginx_access_log)"; else logs="    access_log off;"; fi
  {
    nginx_head "$dir" "$WORKERS"
    cat <<EOF
http {
$logs
    keepalive_timeout 75s;
    keepalive_requests 100000000;
$(nginx_temp_paths "$dir")
    upstream bench {
        server 127.0.0.1:$B1_PORT;
        server 127.0.0.1:$B2_PORT;
        keepalive 64;
        keepalive_requests 100000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_read_timeout 10s;
            proxy_max_temp_file_size 0;
$buffers
        }
    }
}
EOF
  } >"$dir/nginx.conf"
  start_bg nginx nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
  wait_ready nginx "$NGINX_PORT"
}

# start_haproxy LOGS : LOGS is on or off. With logs on, HAProxy logs to its standard output
# (`log stdout`, one write per line), which is appended to its access-log file.
start_haproxy() {
  local cfg="$WORK/haproxy.cfg" global_log="" frontend_log=""
  if [[ "$1" == on ]]; then
    global_log="    log stdout format raw local0"
    # The path and Host header are kept in variables because HAProxy no longer has the request
    # headers when it writes the line; %rc is its count of connection retries.
    frontend_log='    log global
    unique-id-format %[uuid()]
    http-request set-var(txn.path) path
    http-request set-var(txn.host) req.hdr(host)
    log-format "{\"ts\":\"%[date,utime(%Y-%m-%dT%H:%M:%SZ)]\",\"request_id\":\"%ID\",\"client\":\"%ci:%cp\",\"listener\":\"%f\",\"method\":\"%HM\",\"path\":\"%[var(txn.path),json(utf8s)]\",\"host\":\"%[var(txn.host),json(utf8s)]\",\"protocol\":\"%HV\",\"status\":%ST,\"pool\":\"%b\",\"server\":\"%s\",\"server_address\":\"%si:%sp\",\"upstream_status\":%ST,\"duration_ms\":%Ta,\"bytes_sent\":%B,\"retries\":\"%rc\"}"'
  fi
  cat >"$cfg" <<EOF
global
    nbthread $WORKERS
    maxconn $HAPROXY_MAXCONN
$HAPROXY_FD_LINES
$global_log

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 1s
    timeout client 75s
    timeout server 10s
    timeout http-keep-alive 75s
    maxconn $HAPROXY_MAXCONN

frontend web
    bind 127.0.0.1:$HAPROXY_PORT
$frontend_log
    default_backend bench

backend bench
    balance roundrobin
    server b1 127.0.0.1:$B1_PORT maxconn $HAPROXY_MAXCONN
    server b2 127.0.0.1:$B2_PORT maxconn $HAPROXY_MAXCONN
EOF
  if [[ "$1" == on ]]; then
    STDOUT="$(access_log_of haproxy)" start_bg haproxy haproxy -f "$cfg" -db
  else
    start_bg haproxy haproxy -f "$cfg" -db
  fi
  wait_ready haproxy "$HAPROXY_PORT"
}

# start_proxies LOGS : starts every proxy on fresh ports, checks that they answer alike.
start_proxies() {
  local logs="$1" t
  mkdir -p "$WORK/logs"
  free_port SWITCHYARD_PORT; free_port ADMIN_PORT; free_port NGINX_PORT; free_port HAPROXY_PORT
  if [[ "$SKIP_SWITCHYARD" != 1 ]]; then start_switchyard "$logs"; fi
  start_nginx_proxy "$logs"
  start_haproxy "$logs"
  log "proxies up, access logs $logs:$(for t in "${PROXIES[@]}"; do printf ' %s %s' "$t" "$(port_of "$t")"; done)"
  for t in "${PROXIES[@]}"; do check_target "$t" "$(port_of "$t")"; done
  [[ "$logs" == on ]] && check_access_logs
  return 0
}

stop_proxies() {
  check_alive
  stop_named "${PROXIES[@]}"
}

# check_access_logs : every proxy wrote JSON lines with Switchyard's fields (the check requests).
check_access_logs() {
  local t f
  sleep 0.5
  for t in "${PROXIES[@]}"; do
    f="$(access_log_of "$t")"
    [[ -s "$f" ]] || die "$t wrote no access-log line to $f"
    python3 - "$t" "$f" <<'EOF' || die "$t's access log $f does not have the expected lines (see above)"
import json, sys
name, path = sys.argv[1], sys.argv[2]
line = open(path).read().splitlines()[-1]
try:
    rec = json.loads(line)
except ValueError as e:
    sys.exit(f"bench: {name}: access-log line is not JSON ({e}): {line}")
want = {"ts", "request_id", "client", "listener", "method", "path", "host", "protocol", "status", "pool",
        "server", "server_address", "upstream_status", "duration_ms", "bytes_sent"}
want.add("retries" if name == "haproxy" else "attempts")
missing = want - rec.keys()
if missing:
    sys.exit(f"bench: {name}: access-log line lacks {sorted(missing)}: {line}")
if rec["status"] != 200 or rec["server"] not in ("b1", "b2"):
    sys.exit(f"bench: {name}: access-log line has status {rec['status']}, server {rec['server']!r}: {line}")
EOF
  done
}

