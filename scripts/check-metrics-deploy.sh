#!/usr/bin/env bash
# Checks deploy/prometheus and deploy/grafana against the real thing: promtool validates the
# scrape configuration and the alert rules; then a real Prometheus scrapes a real worker (and
# the dashboard's fleet gauges, when kale-full is built) on loopback, and every Grafana
# panel's query and every alert rule is evaluated on it. Nothing listens beyond 127.0.0.1;
# every process started here is stopped by pid.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_packages prometheus redis-server python3 python3-yaml || exit 1
KALE=.build/debug/kale
DASHBOARD=.build/debug/kale-full
[ -x "$KALE" ] || { echo "build kale first: swift build --product kale" >&2; exit 1; }

WORK=$(mktemp -d /tmp/kale-check-metrics.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

status=0
promtool check config deploy/prometheus/prometheus.yml >/dev/null || { echo "FAIL promtool check config"; status=1; }
promtool check rules deploy/prometheus/kale-alerts.yml >/dev/null || { echo "FAIL promtool check rules"; status=1; }
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' deploy/grafana/kale-dashboard.json || { echo "FAIL dashboard JSON"; status=1; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
pids+=($!)
export KALE_REDIS_URL="redis://127.0.0.1:$redis_port"
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

metrics_port=$(free_port)
"$KALE" worker --concurrency 2 --metrics-port "$metrics_port" --log-level warning >"$WORK/worker.log" 2>&1 &
pids+=($!)
targets="\"127.0.0.1:$metrics_port\""
required="kale_tasks_total kale_task_retries_total kale_task_run_seconds kale_task_wait_seconds kale_child_restarts_total kale_children kale_resident_memory_bytes"
if [ -x "$DASHBOARD" ]; then
    dash_port=$(free_port)
    "$DASHBOARD" --port "$dash_port" >"$WORK/dashboard.log" 2>&1 &
    pids+=($!)
    targets="$targets, \"127.0.0.1:$dash_port\""
    required="$required kale_queue_tasks kale_queue_oldest_pending_age_seconds kale_workers_online"
else
    echo "note: $DASHBOARD is not built; the fleet-gauge panels are evaluated but may be empty"
fi
sleep 1
# Work for every panel: successes, retries, deaths and a crashed child; some left pending.
"$KALE" enqueue kale.noop --count 200 --wait >/dev/null || status=1
"$KALE" enqueue kale.fail --args '{"message":"check"}' --retries 1 --wait >/dev/null 2>&1
"$KALE" enqueue kale.crash --args '{"how":"abort"}' --retries 0 --wait >/dev/null 2>&1
"$KALE" enqueue kale.noop --queue idle-queue --count 3 >/dev/null || status=1

prom_port=$(free_port)
cat >"$WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$(pwd)/deploy/prometheus/kale-alerts.yml"]
scrape_configs:
  - job_name: kale
    static_configs: [{targets: [$targets]}]
YAML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$WORK/prometheus.log" 2>&1 &
pids+=($!)
# A few scrapes, then more work, so rate() and increase() have two samples to compare.
sleep 4
"$KALE" enqueue kale.noop --count 200 --wait >/dev/null || status=1
"$KALE" enqueue kale.crash --args '{"how":"abort"}' --retries 0 --wait >/dev/null 2>&1
sleep 4
# shellcheck disable=SC2086
python3 scripts/lib/check-grafana.py "http://127.0.0.1:$prom_port" deploy/grafana/kale-dashboard.json \
    deploy/prometheus/kale-alerts.yml $required || { status=1; tail -20 "$WORK/prometheus.log"; }
if [ "$status" -eq 0 ]; then echo "metrics deploy checks passed"; else echo "metrics deploy checks FAILED"; fi
exit "$status"
