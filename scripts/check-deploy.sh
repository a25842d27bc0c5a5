#!/usr/bin/env bash
# Checks the deployment files in deploy/ without a container engine or a cluster:
#   - systemd units: `systemd-analyze verify` (with stand-in executables),
#   - compose.yaml and the Kubernetes manifests: YAML that parses, with the fields that
#     matter here (grace periods above the worker's, probes, KEDA list names …),
#   - redis.conf: a real redis-server starts with it and reports its settings,
#   - the heartbeat liveness probe against a real worker, when examples/ is built.
# Prints "N passed, N failed" and exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib/deps.sh
ensure_packages systemd redis-server redis-tools python3 python3-yaml

passed=0 failed=0
check() {  # check NAME COMMAND…
    local name=$1; shift
    local output
    if output=$("$@" 2>&1); then
        passed=$((passed + 1)); echo "ok    $name"
    else
        failed=$((failed + 1)); echo "FAIL  $name"; echo "$output" | sed 's/^/      /'
    fi
}
WORK=$(mktemp -d /tmp/kale-check-deploy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# --- systemd ------------------------------------------------------------------------------
# verify wants ExecStart's binary to exist, the user to be known only at run time; point the
# units at stand-ins and verify an instance of the template.
verify_unit() {
    local src=$1 name=$2
    mkdir -p "$WORK/units" "$WORK/bin"
    for b in kale-worker ReportService; do printf '#!/bin/sh\n' >"$WORK/bin/$b"; chmod +x "$WORK/bin/$b"; done
    sed "s|/usr/local/bin/|$WORK/bin/|g" "$src" >"$WORK/units/$name"
    local out
    out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$WORK/units/$name" 2>&1)
    # verify also reports on units it pulls in from this host (e.g. a missing
    # redis-server.service); only lines about our own file count.
    if echo "$out" | grep -F "$name"; then return 1; fi
    return 0
}
check "systemd: kale-worker@.service verifies" verify_unit deploy/systemd/kale-worker@.service kale-worker@check.service
check "systemd: kale-report-service.service verifies" verify_unit deploy/systemd/kale-report-service.service kale-report-service.service
unit_fields() {
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def value(key):
    m = re.findall(rf"^{key}=(.*)$", text, re.M)
    assert m, f"{key} missing"
    return m[-1].strip()
def seconds(v): return float(v.rstrip("s"))
grace = seconds(re.search(r"KALE_WORKER_GRACE=(\S+)", text).group(1))
assert seconds(value("TimeoutStopSec")) > grace + 5, "TimeoutStopSec must exceed the grace period plus the child stop grace"
assert value("Restart") == "on-failure"
assert value("KillMode") == "mixed", "KillMode=mixed: SIGTERM to the supervisor only"
for key, want in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes")]:
    assert value(key) == want, f"{key}={want}"
for key in ["MemoryMax", "TasksMax", "LimitNOFILE"]: value(key)
PY
}
check "systemd: worker stop timeout, restart policy, limits, hardening" unit_fields deploy/systemd/kale-worker@.service

# --- YAML ---------------------------------------------------------------------------------
check "compose.yaml: Redis with AOF, two workers, the report service" python3 - <<'PY'
import yaml
c = yaml.safe_load(open("deploy/compose.yaml"))
s = c["services"]
assert {"redis", "worker", "report-service"} <= set(s), s.keys()
conf = open("deploy/redis.conf").read()
assert "appendonly yes" in conf and any("redis.conf" in v for v in s["redis"]["volumes"])
w = s["worker"]
assert w["deploy"]["replicas"] == 2, "two workers"
assert w["build"]["dockerfile"] == "deploy/container/Containerfile"
grace = float(w["command"][w["command"].index("--grace") + 1].rstrip("s"))
assert float(w["stop_grace_period"].rstrip("s")) > grace + 5, "stop_grace_period above the worker grace"
assert w["environment"]["KALE_REDIS_URL"].startswith("redis://redis:")
assert "/usr/local/bin/kale-worker-alive" in w["healthcheck"]["test"]
r = s["report-service"]
assert "ReportService" in " ".join(r["entrypoint"]) and r["ports"]
for name, svc in s.items():
    for dep, cond in (svc.get("depends_on") or {}).items(): assert dep in s, f"{name} depends on unknown {dep}"
PY

check "k8s: manifests parse, have kind/metadata, and fit together" python3 - <<'PY'
import glob, yaml
docs = []
for path in sorted(glob.glob("deploy/k8s/*.yaml")):
    for d in yaml.safe_load_all(open(path)):
        if d is None: continue
        assert {"apiVersion", "kind", "metadata"} <= set(d), f"{path}: {d.keys()}"
        assert d["metadata"].get("name"), path
        docs.append(d)
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
for kind, name in [("Deployment", "kale-worker"), ("Deployment", "kale-report-service"), ("Service", "kale-report-service"),
                   ("ScaledObject", "kale-worker"), ("StatefulSet", "kale-redis"), ("Service", "kale-redis"),
                   ("Secret", "kale-redis"), ("PersistentVolumeClaim", "kale-data")]:
    assert (kind, name) in by, f"missing {kind}/{name}"
for d in docs:
    if d["kind"] in ("Deployment", "StatefulSet"):
        sel = d["spec"]["selector"]["matchLabels"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in sel.items()), f"{d['metadata']['name']}: selector does not match labels"
        for c in d["spec"]["template"]["spec"]["containers"]:
            assert c.get("image") and c.get("resources", {}).get("limits"), f"{c['name']}: image and limits"
PY

check "k8s: worker grace period, heartbeat liveness probe, KEDA on the pending lists" python3 - <<'PY'
import yaml
docs = [d for d in yaml.safe_load_all(open("deploy/k8s/worker.yaml")) if d]
dep = next(d for d in docs if d["kind"] == "Deployment")
spec = dep["spec"]["template"]["spec"]
c = spec["containers"][0]
grace = float(c["args"][c["args"].index("--grace") + 1].rstrip("s"))
assert spec["terminationGracePeriodSeconds"] > grace + 5, "terminationGracePeriodSeconds must exceed --grace plus the child stop grace"
assert c["livenessProbe"]["exec"]["command"] == ["/usr/local/bin/kale-worker-alive"]
assert c["startupProbe"]["exec"]["command"] == ["/usr/local/bin/kale-worker-alive"]
assert spec["securityContext"]["runAsNonRoot"] is True
env = {e["name"] for e in c["env"]}
assert {"KALE_REDIS_URL", "KALE_REDIS_ADDRESS", "POD_NAME"} <= env
so = yaml.safe_load(open("deploy/k8s/worker-scaledobject.yaml"))
assert so["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
lists = sorted(t["metadata"]["listName"] for t in so["spec"]["triggers"] if t["type"] == "redis")
assert lists == sorted(f"kale:{{default}}:pending:{p}" for p in ("high", "normal", "low")), lists
for t in so["spec"]["triggers"]: assert t["metadata"]["addressFromEnv"] in env
PY

check "Containerfile: swift builder, slim runtime with runtime libraries only, non-root" python3 - <<'PY'
import re
text = open("deploy/container/Containerfile").read()
froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
assert len(froms) == 2 and re.search(r"swift:6\.", froms[0]) and "bookworm-slim" in froms[1], froms
runtime = text.split("FROM ", 2)[2]
for lib in ["libhiredis0.14", "libvips42", "libpoppler-glib8", "libpangocairo-1.0-0", "libcairo2"]:
    assert lib in runtime, lib
assert "-dev" not in runtime.split("COPY")[0], "no -dev package in the runtime stage"
assert re.search(r"^USER\s+10001", runtime, re.M), "runs as a non-root user"
assert "scripts/build-release.sh" in text.split("FROM ", 2)[1], "builds the way scripts/build-release.sh does"
PY

# --- the release build ----------------------------------------------------------------------
# scripts/build-release.sh: the runtime linked in, and the functions of deploy/link/kale.order
# placed in that order (docs/decisions/0014-release-link-order.md).
release_build() {
    local bin exe
    bin=$(scripts/build-release.sh kale 2>"$WORK/release-build.log" | tail -1) || { tail -20 "$WORK/release-build.log"; return 1; }
    exe="$bin/kale"
    "$exe" --help >/dev/null || { echo "the release kale does not run"; return 1; }
    if readelf -d "$exe" | grep -E "NEEDED.*(libswift|libFoundation|libdispatch|libstdc\+\+)"; then
        echo "links the Swift runtime or libstdc++ dynamically"; return 1
    fi
    # The point of the order is that the listed functions share few 64 KiB windows (the
    # kernel maps a window per page fault): packed together, they fill most of the windows
    # between the first and the last of them (0.85 for kale); left where they were, about
    # half (0.56). Some objects were compiled without a section per function and move whole,
    # so the listed order itself is only approximately kept.
    python3 - "$exe" <<'PY'
import subprocess, sys
listed = {l.strip() for l in open("deploy/link/kale.order") if l.strip() and not l.startswith("#")}
symbols = subprocess.run(["nm", "--defined-only", sys.argv[1]], capture_output=True, text=True, check=True).stdout
placed = [int(p[0], 16) for p in (l.split() for l in symbols.splitlines()) if len(p) == 3 and p[1] in "tT" and p[2] in listed]
assert len(placed) >= 1000, f"only {len(placed)} listed functions found in the executable"
windows = {a >> 16 for a in placed}
density = len(windows) / (max(windows) - min(windows) + 1)
assert density >= 0.75, f"listed functions fill {density:.2f} of their 64 KiB windows: the order was not applied"
PY
}
check "release build: runtime linked in, functions in the order of deploy/link/kale.order" release_build

# --- redis.conf ---------------------------------------------------------------------------
redis_conf() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$WORK/redis"
    # The production file as is, but on a free loopback port in a temp dir.
    # check() runs this in a command substitution: background processes must not hold its
    # stdout (it would never end), and must be stopped here, not by the EXIT trap.
    redis-server deploy/redis.conf --port "$port" --bind 127.0.0.1 --dir "$WORK/redis" --daemonize no \
        --logfile "$WORK/redis/redis.log" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    local policy aof fsync
    policy=$(redis-cli -p "$port" config get maxmemory-policy | tail -1)
    aof=$(redis-cli -p "$port" config get appendonly | tail -1)
    fsync=$(redis-cli -p "$port" config get appendfsync | tail -1)
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
    wait "$pid" 2>/dev/null
    [ "$policy" = noeviction ] && [ "$aof" = yes ] && [ "$fsync" = everysec ] \
        || { echo "policy=$policy appendonly=$aof appendfsync=$fsync"; cat "$WORK/redis/redis.log"; return 1; }
    grep -B3 "^maxmemory-policy noeviction" deploy/redis.conf | grep -qi "evict" || { echo "the reason for noeviction is not written down"; return 1; }
}
check "redis.conf: a real redis-server runs it with AOF everysec and noeviction" redis_conf

# --- the liveness probe, against a real worker --------------------------------------------
probe() {
    PROBE_PIDS=()
    probe_steps
    local status=$?
    for p in "${PROBE_PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    return $status
}
probe_steps() {
    local bin port pid url
    bin=$(swift build --package-path examples --show-bin-path 2>/dev/null)/ExampleWorker
    [ -x "$bin" ] || { echo "skipped: build examples/ first"; return 0; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$WORK/probe"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/probe" --save "" --appendonly no --daemonize no \
        --logfile "$WORK/probe/redis.log" >/dev/null 2>&1 &
    PROBE_PIDS+=($!)
    url=redis://127.0.0.1:$port
    for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    KALE_EXAMPLES_OUT="$WORK/probe/out" "$bin" worker --redis "$url" --concurrency 1 --lease 2s \
        >"$WORK/probe/worker.log" 2>&1 &
    pid=$!
    PROBE_PIDS+=("$pid")
    local alive=deploy/container/kale-worker-alive
    for _ in $(seq 1 100); do KALE_REDIS_URL=$url KALE_WORKER_PID=$pid $alive >/dev/null 2>&1 && break; sleep 0.1; done
    KALE_REDIS_URL=$url KALE_WORKER_PID=$pid $alive || { echo "probe fails for a healthy worker"; cat "$WORK/probe/worker.log"; return 1; }
    # A hung worker: no heartbeats, so its entry expires after one lease (2 s).
    kill -STOP "$pid"
    sleep 3
    if KALE_REDIS_URL=$url KALE_WORKER_PID=$pid $alive; then kill -CONT "$pid"; echo "probe passes for a stopped worker"; return 1; fi
    kill -CONT "$pid"
    # Redis down: the probe does not judge (exit 0), so an outage restarts nobody.
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
    KALE_REDIS_URL=$url KALE_WORKER_PID=$pid $alive || { echo "probe fails while Redis is down"; return 1; }
    return 0
}
check "kale-worker-alive: passes for a beating worker, fails for a hung one, passes while Redis is down" probe

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
