#!/usr/bin/env bash
# (c) The clients' endpoints fail 30 % of deliveries at random for a minute:
# everything is delivered, in order, once they recover (retries are quick here:
# the load tester sets each client's retry policy to 20 retries, 0.1-1 s apart).
source "$(dirname "$0")/common.sh"
build
fresh_store flaky
start_server
trap 'stop_server' EXIT
loadtest flaky-sink --tenants 8 --rate "${RATE:-1000}" --duration "${DURATION:-60s}" \
    --sink-fail-rate 0.3 --baseline-duration 0s --server-pid "$SERVER_PID"
