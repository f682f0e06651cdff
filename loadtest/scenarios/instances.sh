#!/usr/bin/env bash
# Throughput of 1, 2 and 3 instances on one Postgres behind nginx
# (config/nginx.conf), closed model, 64 connections. On one 2-core machine
# the instances, nginx, Postgres and the load tester share the same cores:
# this shows the cost of the extra hop and of coordination, not scaling.
source "$(dirname "$0")/common.sh"
build
NGINX_DIR="$OUT/nginx"
for n in 1 2 3; do
    fresh_store "instances$n"
    pids=()
    ports=()
    for i in $(seq 1 "$n"); do
        port=$((4100 + i))
        start_server "$port" ORDERHOOK_CONFIG="$ROOT/config/scale-out.toml"
        pids+=("$SERVER_PID")
        ports+=("$port")
    done
    rm -rf "$NGINX_DIR" && mkdir -p "$NGINX_DIR/tmp"
    upstreams=""
    for port in "${ports[@]}"; do
        upstreams+="        server 127.0.0.1:$port max_fails=3 fail_timeout=10s;\n"
    done
    # The repository's config with this run's instances and port.
    python3 - "$ROOT/config/nginx.conf" "$NGINX_DIR/nginx.conf" "$upstreams" <<'PY'
import re, sys
src, dst, servers = sys.argv[1], sys.argv[2], sys.argv[3].replace("\\n", "\n")
text = open(src).read()
text = re.sub(r"(        server 127\.0\.0\.1:400\d [^\n]*\n)+", servers, text)
text = text.replace("listen 127.0.0.1:8080;", "listen 127.0.0.1:18080;")
open(dst, "w").write(text)
PY
    nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" &
    NGINX_PID=$!
    sleep 1
    ORDERHOOK_ADMIN_TOKEN=$TOKEN "$LOADTEST" --target http://127.0.0.1:18080 \
        --report "$OUT/instances-$n.json" --tenants 24 --connections 64 \
        --duration "${DURATION:-10s}" | tail -8
    kill -TERM "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
    for pid in "${pids[@]}"; do stop_server "$pid"; done
done
for n in 1 2 3; do
    echo "$n instance(s): $(field "instances-$n" "['accepted_per_sec']") accepted/s, ratio $(field "instances-$n" "['ratio']")"
done
