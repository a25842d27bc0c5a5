#!/usr/bin/env bash
# The seed scenario: 50 concurrent POST /reports, each a report that costs about 2 s of CPU,
# against one ExampleWorker with 2 children on this machine. Checks that
#   - every request is answered 202, with p99 latency under 50 ms (the service only enqueues),
#   - all 50 reports are produced (each result names a PDF that exists),
#   - the whole run takes within 10% of the ideal 50 × 2 s / 2 children = 50 s.
# Prints the figures and exits non-zero when a check fails.
#
# Usage: examples/scripts/seed-scenario.sh            (release build, the figures that count)
#        SEED_CONFIG=debug SEED_REQUESTS=10 examples/scripts/seed-scenario.sh   (a quick look)
# Knobs: SEED_REQUESTS (50), SEED_CPU_MS (2000), SEED_ROWS (12 table rows per report),
#        SEED_WORKER_NICE (0), SEED_CONFIG (release).
# Starts its own redis-server on a free loopback port; stops everything it started on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# The figures mean something only on an otherwise idle machine: say so when it is not.
load=$(cut -d' ' -f1 /proc/loadavg)
if python3 -c "import sys; sys.exit(0 if float('$load') > 0.5 else 1)"; then
    echo "warning: load average is $load before starting; other work on this machine will skew the figures" >&2
fi
ROOT=$(cd .. && pwd)
source "$ROOT/scripts/lib/deps.sh"
ensure_packages pkg-config libhiredis-dev redis-server redis-tools curl python3 \
    libvips-dev libcairo2-dev libpango1.0-dev libpoppler-glib-dev fonts-dejavu-core

CONFIG=${SEED_CONFIG:-release}
REQUESTS=${SEED_REQUESTS:-50}
CPU_MS=${SEED_CPU_MS:-2000}
CHILDREN=2

WORK=$(mktemp -d /tmp/kale-seed.XXXXXX)
echo "building ($CONFIG) …"
for product in ExampleWorker ReportService ExampleProducer; do
    swift build -c "$CONFIG" --product "$product" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
done
BIN=$(swift build -c "$CONFIG" --show-bin-path)

PIDS=()
cleanup() {
    # Reverse order: the service and the worker still need Redis while they stop.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[i]}" 2>/dev/null || true
        wait "${PIDS[i]}" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for SECONDS COMMAND…: retry until it succeeds
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $*" >&2; return 1; }
        sleep 0.1
    done
}

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --save "" --appendonly no \
    --logfile "$WORK/redis.log" &
PIDS+=($!)
wait_for 10 redis-cli -p "$REDIS_PORT" ping
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

# SEED_WORKER_NICE=5 runs the worker as deploy/systemd/kale-worker@.service does (Nice=5);
# the default is no adjustment, the harder case for the service's latency.
KALE_EXAMPLES_OUT="$WORK/out" nice -n "${SEED_WORKER_NICE:-0}" "$BIN/ExampleWorker" worker --redis "$REDIS_URL" --concurrency "$CHILDREN" \
    --log-level info 2>"$WORK/worker.log" &
PIDS+=($!)
HTTP_PORT=$(free_port)
"$BIN/ReportService" --redis "$REDIS_URL" --port "$HTTP_PORT" --log-level warning 2>"$WORK/service.log" &
PIDS+=($!)
wait_for 30 curl -sf "http://127.0.0.1:$HTTP_PORT/health"
# The worker is ready once its heartbeat has registered it. The count is read anew on each
# try: given as `test "$(…)" -ge 1`, it was read once, before the worker had registered,
# and the wait could only time out.
workers_registered() { [ "$(redis-cli -p "$REDIS_PORT" zcard kale:workers)" -ge 1 ]; }
wait_for 30 workers_registered

# The CPU comes from the cpu_ms knob, so the request itself stays small (title, three
# paragraphs, a chart and a table of SEED_ROWS rows: about 1.7 KB with 12).
"$BIN/ExampleProducer" sample-report --cpu-ms "$CPU_MS" --rows "${SEED_ROWS:-12}" --title "Seed scenario report" >"$WORK/body.json"
mkdir -p "$WORK/responses"
echo "sending $REQUESTS concurrent POST /reports ($(wc -c <"$WORK/body.json") bytes, cpu_ms=$CPU_MS each) to one worker with $CHILDREN children …"
# CPU used on the whole machine during the run, to tell how much other work there was.
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
tree_jiffies() {  # utime+stime of these processes and their children
    local total=0 pid
    for pid in "$@" $(for p in "$@"; do pgrep -P "$p"; done); do
        [ -r "/proc/$pid/stat" ] || continue
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
BUSY_BEFORE=$(busy_jiffies)
OURS_BEFORE=$(tree_jiffies "${PIDS[@]}")
START_MS=$(date +%s%3N)
# One curl, all transfers at once: each line is "<status> <seconds>" for one request.
curl --silent --parallel --parallel-immediate --parallel-max "$REQUESTS" \
    -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/body.json" \
    -o "$WORK/responses/#1.json" -w '%{http_code} %{time_total}\n' \
    "http://127.0.0.1:$HTTP_PORT/reports?n=[1-$REQUESTS]" >"$WORK/latency.txt" 2>/dev/null

# Follow the tasks through the service's own status endpoint until all have ended.
ids=$(python3 -c 'import sys, json; [print(json.load(open(f))["id"]) for f in sys.argv[1:]]' "$WORK"/responses/*.json)
deadline=$((SECONDS + 600))
while :; do
    # One curl for all ids every 2 s: the poller must not steal CPU from the run it measures.
    urls=()
    for id in $ids; do urls+=("http://127.0.0.1:$HTTP_PORT/tasks/$id"); done
    curl -s -w '\n' "${urls[@]}" >"$WORK/status.jsonl"
    open=$(python3 -c '
import sys, json
done = ("succeeded", "failed", "dead", "cancelled", "expired")
print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l).get("state") not in done))' "$WORK/status.jsonl")
    printf '\r  %3d of %d reports still queued or running after %3ds' "$open" "$REQUESTS" $(( ($(date +%s%3N) - START_MS) / 1000 ))
    [ "$open" -eq 0 ] && break
    [ $SECONDS -lt $deadline ] || { echo; echo "timed out" >&2; exit 1; }
    sleep 2
done
echo
BUSY=$(( $(busy_jiffies) - BUSY_BEFORE ))
OURS=$(( $(tree_jiffies "${PIDS[@]}") - OURS_BEFORE ))

python3 - "$WORK" "$START_MS" "$REQUESTS" "$CPU_MS" "$CHILDREN" "$BUSY" "$OURS" "$(getconf CLK_TCK)" <<'PY'
import json, os, sys
work, start_ms, n, cpu_ms, children = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
busy, ours, tick = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
lat = [l.split() for l in open(f"{work}/latency.txt") if l.strip()]
codes = [int(c) for c, _ in lat]
ms = sorted(float(t) * 1000 for _, t in lat)
def pct(p): return ms[min(len(ms) - 1, max(0, int(round(p / 100 * len(ms) + 0.5)) - 1))]
tasks = [json.loads(l) for l in open(f"{work}/status.jsonl") if l.strip()]
ok = [t for t in tasks if t["state"] == "succeeded" and os.path.exists(t["result"]["output"]) and t["result"]["pages"] > 0]
# Run times as the worker logged them (from the child starting the task to its answer).
runs = [float(l.split("duration.ms=")[1].split()[0]) / 1000 for l in open(f"{work}/worker.log")
        if "task succeeded" in l and "task.name=reports.pdf" in l and "duration.ms=" in l]
total = (max(t["finished_at"] for t in tasks) - start_ms) / 1000
ideal = n * cpu_ms / 1000 / children
checks = [
    (f"{codes.count(202)}/{n} answered 202", codes.count(202) == n),
    (f"latency p50 {pct(50):.1f} ms, p99 {pct(99):.1f} ms, max {ms[-1]:.1f} ms (p99 < 50 ms)", pct(99) < 50),
    (f"{len(ok)}/{n} reports produced ({ok[0]['result']['pages'] if ok else 0} pages, {ok[0]['result']['bytes'] // 1024 if ok else 0} KiB each)", len(ok) == n),
    (f"total {total:.1f} s vs ideal {ideal:.1f} s: {100 * (total / ideal - 1):+.1f}% (within 10%)", total <= ideal * 1.10),
]
print(f"one report: {sum(runs) / max(len(runs), 1):.2f} s mean run time in the worker (min {min(runs, default=0):.2f}, max {max(runs, default=0):.2f})")
others = max(busy - ours, 0) / tick
print(f"CPU during the run: {ours / tick:.1f} s by the scenario's processes, {others:.1f} s by other processes"
      + (" (the machine was shared: the total time is not representative)" if others > 0.05 * total * os.cpu_count() else ""))
if others > 0.05 * total * os.cpu_count():
    print(f"  without the other processes' CPU the run would have taken about {total - others / os.cpu_count():.1f} s")
for text, passed in checks: print(("PASS  " if passed else "FAIL  ") + text)
sys.exit(0 if all(p for _, p in checks) else 1)
PY
