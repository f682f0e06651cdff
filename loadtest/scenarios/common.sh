# Shared by the scenario scripts: a fresh database, the release binaries, and
# a server started and stopped on loopback. Source it; do not run it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/target/loadtest}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
STORE=${STORE:-postgres}          # or: embedded
PORT=${PORT:-4000}
TOKEN=bench-admin-token
SERVER=$ROOT/target/release/orderhook
LOADTEST=$ROOT/target/release/orderhook-loadtest
mkdir -p "$OUT"

build() {
    (cd "$ROOT" && cargo build --release --quiet --bin orderhook --bin orderhook-loadtest)
}

# fresh_store NAME: an empty database (or data directory) for this scenario.
fresh_store() {
    DB_NAME="orderhook_bench_$1"
    DATA_DIR="$OUT/data-$1"
    rm -rf "$DATA_DIR"
    if [ "$STORE" = postgres ]; then
        psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" \
            -c "CREATE DATABASE $DB_NAME" >/dev/null
    fi
}

# start_server [PORT] [extra VAR=value...]: starts the release server in the
# background on PORT; sets SERVER_PID and waits until it answers.
start_server() {
    local port=${1:-$PORT}
    shift || true
    local store_env=("ORDERHOOK_STORE__DATA_DIR=$DATA_DIR")
    if [ "$STORE" = postgres ]; then
        store_env+=("DATABASE_URL=$PG/$DB_NAME")
    fi
    env "${store_env[@]}" \
        ORDERHOOK_ADDR=127.0.0.1:$port \
        ORDERHOOK_ADMIN_TOKEN=$TOKEN \
        ORDERHOOK_ENCRYPTION_KEY=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= \
        ORDERHOOK_DELIVERY__ALLOW_PRIVATE_DESTINATIONS=true \
        ORDERHOOK_DELIVERY__PROBE_INTERVAL_MS=1000 \
        ORDERHOOK_METRICS__CLIENT_ID_LABEL=false \
        RUST_LOG=${RUST_LOG:-warn} \
        "$@" "$SERVER" >>"$OUT/server-$port.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if curl -sf "http://127.0.0.1:$port/health/live" >/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "server on port $port did not start; see $OUT/server-$port.log" >&2
    return 1
}

stop_server() {
    local pid=${1:-$SERVER_PID}
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# loadtest NAME [flags...]: runs the load tester against PORT, writing $OUT/NAME.json.
loadtest() {
    local name=$1
    shift
    ORDERHOOK_ADMIN_TOKEN=$TOKEN "$LOADTEST" --target "http://127.0.0.1:$PORT" \
        --report "$OUT/$name.json" "$@"
}

# field NAME KEY: a value from a report, e.g. field kill9 lost.
field() {
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval('r'+sys.argv[2]))" \
        "$OUT/$1.json" "$2"
}
