#!/usr/bin/env bash
# Open model at a fixed rate (default 5,000/s): ingest and end-to-end
# latency percentiles without coordinated omission.
source "$(dirname "$0")/common.sh"
build
fresh_store latency
start_server
trap 'stop_server' EXIT
loadtest "latency-$STORE" --tenants 8 --rate "${RATE:-5000}" --duration "${DURATION:-10s}" \
    --server-pid "$SERVER_PID"
