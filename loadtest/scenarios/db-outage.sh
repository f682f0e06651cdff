#!/usr/bin/env bash
# (b) Postgres goes away mid-load: every connection of the server is
# terminated, repeatedly, for OUTAGE seconds (default 3). During it requests
# get 503 and never a 200 that was not committed; afterwards the server
# recovers by itself and nothing acknowledged is lost.
# RESTART_POSTGRES=1 restarts the whole cluster instead (needs pg_ctlcluster
# and stops every other user of it for a moment).
source "$(dirname "$0")/common.sh"
build
fresh_store dboutage
start_server
trap 'stop_server' EXIT
loadtest db-outage --tenants 8 --rate "${RATE:-2000}" --duration 20s --baseline-duration 0s \
    --drain-timeout 60s &
LOAD=$!
sleep 7
if [ "${RESTART_POSTGRES:-0}" = 1 ]; then
    echo "restarting the Postgres cluster" >&2
    pg_ctlcluster "$(pg_lsclusters -h | awk 'NR==1{print $1}')" main restart
else
    echo "terminating the server's Postgres connections for ${OUTAGE:-3} s" >&2
    end=$((SECONDS + ${OUTAGE:-3}))
    while [ $SECONDS -lt $end ]; do
        psql -qAt "$PG/postgres" -c \
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$DB_NAME'" \
            >/dev/null
        sleep 0.1
    done
fi
wait "$LOAD"
echo "statuses: $(field db-outage "['statuses']")" >&2
