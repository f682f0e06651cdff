#!/usr/bin/env bash
# (f) 20 % of the load generator's connections are cut mid-request (half
# after the body, half in the middle of it): every event the store holds is
# delivered, none orphaned.
source "$(dirname "$0")/common.sh"
build
fresh_store abandon
start_server
trap 'stop_server' EXIT
loadtest abandon --tenants 8 --rate "${RATE:-2000}" --duration 15s --abandon-rate 0.2 \
    --baseline-duration 0s
