#!/usr/bin/env bash
# Closed model, 64 connections: accepted/s with delivery to a healthy sink
# running at the same time, and the ratio to /health/live in the same run.
# STORE=embedded runs it on the embedded store.
source "$(dirname "$0")/common.sh"
build
fresh_store throughput
start_server
trap 'stop_server' EXIT
loadtest "throughput-$STORE" --tenants 8 --connections 64 --duration "${DURATION:-10s}" \
    --server-pid "$SERVER_PID"
