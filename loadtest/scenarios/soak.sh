#!/usr/bin/env bash
# Ten minutes at a steady rate (1,000/s): the server's memory should stay flat (growth
# under 50 MB after warm-up). Long; not part of cargo test.
source "$(dirname "$0")/common.sh"
build
fresh_store soak
start_server
trap 'stop_server' EXIT
loadtest soak --tenants 64 --rate "${RATE:-1000}" --duration "${DURATION:-600s}" \
    --baseline-duration 0s --server-pid "$SERVER_PID"
