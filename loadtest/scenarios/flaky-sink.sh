#!/usr/bin/env bash
# (c) The clients' endpoints fail 30 % of deliveries at random for a minute,
# then recover: everything is delivered, in order, once they do. Retries are
# quick here (the load tester sets each client's policy to 20 retries, 0.1-1 s
# apart) and a failing tenant is probed every second.
source "$(dirname "$0")/common.sh"
build
fresh_store flaky
start_server
trap 'stop_server' EXIT
loadtest flaky-sink --tenants 64 --rate "${RATE:-500}" --duration "${DURATION:-60s}" \
    --sink-fail-rate 0.3 --sink-fail-for "${DURATION:-60s}" --baseline-duration 0s \
    --server-pid "$SERVER_PID" --drain-timeout 300s
