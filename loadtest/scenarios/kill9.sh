#!/usr/bin/env bash
# (a) kill -9 the server mid-load, restart it on the same store: zero lost
# acknowledged events, everything delivered in order after the restart;
# redeliveries around the crash are counted as duplicates.
source "$(dirname "$0")/common.sh"
build
fresh_store kill9
start_server
loadtest kill9 --tenants 8 --rate "${RATE:-2000}" --duration 20s --baseline-duration 0s \
    --drain-timeout 60s &
LOAD=$!
sleep 8
kill -9 "$SERVER_PID"
echo "killed the server (kill -9) at 8 s; restarting in 2 s" >&2
sleep 2
start_server
trap 'stop_server' EXIT
wait "$LOAD"
