#!/usr/bin/env bash
# Every scenario in turn (about 25 minutes with the soak, 15 without:
# SOAK=0 skips it). Reports land in target/loadtest/.
set -euo pipefail
here=$(dirname "$0")
"$here/throughput.sh"
STORE=embedded "$here/throughput.sh"
"$here/latency.sh"
STORE=embedded "$here/latency.sh"
"$here/kill9.sh"
"$here/db-outage.sh"
"$here/flaky-sink.sh"
"$here/dead-tenant.sh"
"$here/many-tenants.sh"
"$here/abandon.sh"
"$here/fleet.sh"
"$here/instances.sh"
if [ "${SOAK:-1}" = 1 ]; then "$here/soak.sh"; fi
