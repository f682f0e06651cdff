#!/usr/bin/env bash
# (e) 10,000 tenants with a few events each, then idle: memory returns close
# to where it started as idle tenant actors stop (idle timeout 10 s here).
source "$(dirname "$0")/common.sh"
build
fresh_store many
start_server "$PORT" ORDERHOOK_TENANTS__IDLE_TIMEOUT_MS=10000
trap 'stop_server' EXIT
loadtest many-tenants --tenants "${TENANTS:-10000}" --rate "${RATE:-1000}" --duration 20s \
    --baseline-duration 0s --idle-after 30s --server-pid "$SERVER_PID"
echo "running tenant actors after idling: $(curl -s localhost:$PORT/health | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"]["actors"]["runningTenants"])')" >&2
