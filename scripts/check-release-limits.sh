#!/usr/bin/env bash
# Checks the memory ceiling in a release build of the stand-alone worker, where the optimiser
# once removed kale.alloc's page touches (600 MiB "allocated" in 3 ms under a 200 MiB
# ceiling, and the task succeeded). Against a throw-away redis-server on a free loopback port:
#   1. kale.alloc of 600 MiB under --max-memory-per-child 200 ends MemoryLimitExceeded;
#   2. the same through Swift's allocator (chunk_mb), which traps, ends MemoryLimitExceeded;
#   3. kale.alloc of 50 MiB succeeds, within a second;
#   4. kale.alloc of 600 MiB without a ceiling succeeds and takes over 50 ms: the pages are
#      really written (the kernel alone needs that long to zero them).
#
# usage: scripts/check-release-limits.sh [--kale PATH]   (default: build .build/release/kale)
set -uo pipefail
cd "$(dirname "$0")/.."
kale=""
case "${1:-}" in
    --kale) kale="$2" ;;
    "") ;;
    *) echo "check-release-limits.sh: usage: $0 [--kale PATH]" >&2; exit 2 ;;
esac
if [ -z "$kale" ]; then
    echo "==> swift build -c release --product kale"
    swift build -c release --product kale 2>&1 | tail -1
    kale=.build/release/kale
fi
[ -x "$kale" ] || { echo "check-release-limits.sh: no executable at $kale" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no --logfile "$work/redis.log" &
pids+=($!)
export KALE_REDIS_URL="redis://127.0.0.1:$port/0"
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# worker QUEUE ARGS…: starts a worker on its own queue and waits for its heartbeat.
worker() {
    local queue=$1; shift
    "$kale" worker --diagnostics --prefix limits --queues "$queue" --concurrency 1 --name "$queue" "$@" 2>"$work/$queue.log" &
    pids+=($!)
    local pid=$!
    for _ in $(seq 1 100); do
        redis-cli -p "$port" zrange limits:workers 0 -1 | grep -q "^$queue-$pid-" && return 0
        sleep 0.1
    done
    echo "the $queue worker did not start:"; cat "$work/$queue.log"; exit 1
}
worker ceiling --max-memory-per-child 200
worker free

failed=0
# check DESCRIPTION QUEUE ARGS EXPECT: runs kale.alloc ARGS once and compares the outcome.
# EXPECT is `MemoryLimitExceeded`, or `succeeded MIN_MS MAX_MS` for the run's duration.
check() {
    local what=$1 queue=$2 args=$3 expect=$4
    local line
    line=$("$kale" enqueue kale.alloc --prefix limits --queue "$queue" --args "$args" --retries 0 \
        --wait --timeout 30s --json 2>/dev/null | head -1)
    python3 - "$what" "$expect" "$line" <<'EOF' || failed=1
import json, sys
from datetime import datetime
what, expect, line = sys.argv[1], sys.argv[2].split(), sys.argv[3]
task = json.loads(line) if line else {}
ms = None
if task.get("started_at") and task.get("finished_at"):
    at = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    ms = (at(task["finished_at"]) - at(task["started_at"])).total_seconds() * 1000
error = task.get("error") or {}
got = f"{task.get('state')} in {ms:.0f} ms" if ms is not None else str(task.get("state"))
if error:
    got += f": {error.get('type')}: {error.get('message')}"
if expect[0] == "MemoryLimitExceeded":
    ok = task.get("state") == "dead" and error.get("type") == "MemoryLimitExceeded" and error.get("kind") == "memory_limit"
else:
    ok = task.get("state") == "succeeded" and ms is not None and float(expect[1]) < ms < float(expect[2])
print(f"{'ok  ' if ok else 'FAIL'} {what}: {got}")
sys.exit(0 if ok else 1)
EOF
}
check "600 MiB under a 200 MiB ceiling" ceiling '{"mb":600}' MemoryLimitExceeded
check "600 MiB in 16 MiB Swift blocks under a 200 MiB ceiling" ceiling '{"mb":600,"chunk_mb":16}' MemoryLimitExceeded
check "50 MiB under a 200 MiB ceiling" ceiling '{"mb":50}' "succeeded 0 1000"
check "600 MiB without a ceiling (pages really written: over 50 ms)" free '{"mb":600}' "succeeded 50 10000"
if [ "$failed" -ne 0 ]; then
    echo "check-release-limits: FAILED (worker logs follow)"
    tail -n 5 "$work/ceiling.log" "$work/free.log"
    exit 1
fi
echo "check-release-limits: all passed"
