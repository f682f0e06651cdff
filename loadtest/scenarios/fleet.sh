#!/usr/bin/env bash
# The memory of a large fleet: 100,000 registered tenants of which 10,000
# receive events.
source "$(dirname "$0")/common.sh"
build
fresh_store fleet
start_server
trap 'stop_server' EXIT
loadtest fleet --tenants "${ACTIVE:-10000}" --idle-tenants "${IDLE:-90000}" --rate "${RATE:-1000}" \
    --duration 15s --baseline-duration 0s --server-pid "$SERVER_PID"
