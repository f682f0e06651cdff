#!/usr/bin/env bash
# (d) One tenant's endpoint is down for the whole run: the other tenants'
# end-to-end p99 should stay within 2x of the same run without it.
source "$(dirname "$0")/common.sh"
build
for down in 0 1; do
    fresh_store "deadtenant$down"
    start_server
    loadtest "dead-tenant-$down" --tenants 16 --rate "${RATE:-2000}" --duration 15s \
        --down-tenants "$down" --baseline-duration 0s --drain-timeout 30s
    stop_server
done
without=$(field dead-tenant-0 "['e2e_latency_ms']['p99']")
with=$(field dead-tenant-1 "['e2e_latency_ms']['p99']")
echo "others' e2e p99: ${without} ms without a dead tenant, ${with} ms with one" >&2
python3 -c "import sys; w,d=float(sys.argv[1]),float(sys.argv[2]); print(f'ratio {d/w:.2f} (target <= 2)'); sys.exit(0 if d <= 2*w else 1)" "$without" "$with"
