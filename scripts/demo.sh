#!/usr/bin/env bash
# Kale's demo, from a fresh clone: one command shows producers, Redis and a worker at work.
#
#   bash scripts/demo.sh
#
# 1. installs what is missing (Debian packages: Redis, libvips, cairo, pango, poppler),
# 2. starts a throw-away redis-server on a free loopback port, unless KALE_REDIS_URL names
#    a server of yours (the demo then uses the key prefix "kale-demo" there),
# 3. builds the example worker and producer (debug build: the first one takes a few minutes),
# 4. starts ExampleWorker with 2 child processes,
# 5. draws sample photos (up to 4000×3000) and enqueues thumbnails of them and PDF reports,
#    following each task to its end, then a preview and the text of each report,
# 6. prints where the outputs are, and stops everything it started (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib/deps.sh

ensure_packages pkg-config libhiredis-dev redis-server redis-sentinel redis-tools \
    libvips-dev libcairo2-dev libpango1.0-dev libpoppler-glib-dev fonts-dejavu-core

OUT="$ROOT/examples/out"
WORK=$(mktemp -d /tmp/kale-demo.XXXXXX)
REDIS_PID="" WORKER_PID=""
cleanup() {
    local status=$?
    if [ -n "$WORKER_PID" ]; then
        # SIGTERM is the worker's warm shutdown: running tasks finish, the rest go back.
        kill -TERM "$WORKER_PID" 2>/dev/null || true
        wait "$WORKER_PID" 2>/dev/null || true
    fi
    if [ -n "$REDIS_PID" ]; then
        kill -TERM "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS COMMAND…: retry until it succeeds
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ -n "${KALE_REDIS_URL:-}" ]; then
    REDIS_URL=$KALE_REDIS_URL
    PREFIX=kale-demo
    echo "==> using your Redis at KALE_REDIS_URL (key prefix '$PREFIX')"
else
    PREFIX=kale
    for _ in $(seq 1 50); do
        PORT=$((20000 + RANDOM % 40000))
        port_is_free "$PORT" && break
    done
    echo "==> starting redis-server on 127.0.0.1:$PORT (data in $WORK, removed afterwards)"
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --save "" --appendonly no \
        --logfile "$WORK/redis.log" &
    REDIS_PID=$!
    REDIS_URL="redis://127.0.0.1:$PORT"
    wait_for 10 redis-cli -u "$REDIS_URL" ping || { echo "redis-server did not start:"; cat "$WORK/redis.log"; exit 1; }
fi

echo "==> building examples/ (debug) — the first build takes a few minutes"
for product in ExampleWorker ExampleProducer; do
    swift build --package-path examples --product "$product" >"$WORK/build.log" 2>&1 \
        || { cat "$WORK/build.log"; exit 1; }
done
BIN=$(swift build --package-path examples --show-bin-path)

echo "==> starting ExampleWorker with 2 child processes (log: examples/out/worker.log)"
# Outputs of an earlier run would be counted with this one's; the samples are kept.
rm -rf "$OUT/thumbnails" "$OUT/converted" "$OUT/reports" "$OUT/previews"
mkdir -p "$OUT"
KALE_EXAMPLES_OUT="$OUT" "$BIN/ExampleWorker" worker --redis "$REDIS_URL" --prefix "$PREFIX" \
    --concurrency 2 --name demo 2>"$OUT/worker.log" &
WORKER_PID=$!
# Ready once its heartbeat has registered it in Redis; give up if the process died.
ready() { kill -0 "$WORKER_PID" && [ "$(redis-cli -u "$REDIS_URL" zcard "$PREFIX:workers")" -ge 1 ]; }
wait_for 60 ready || { echo "the worker did not start:"; tail -20 "$OUT/worker.log"; exit 1; }

echo "==> enqueueing thumbnails and reports"
"$BIN/ExampleProducer" demo --redis "$REDIS_URL" --prefix "$PREFIX" \
    --samples "$OUT/samples" --out "$OUT" --reports 3

echo
echo "Open them: examples/out/thumbnails/, examples/out/reports/*.pdf, examples/out/previews/*.png"
echo "==> stopping the worker${REDIS_PID:+ and redis-server}"
