#!/usr/bin/env bash
# Checks the deployment files in deploy/ without a container engine or a cluster:
#   - systemd units: `systemd-analyze verify` (with stand-in executables),
#   - compose.yaml and the Kubernetes manifests: YAML that parses, with the fields that
#     matter here (grace periods above the worker's, probes, KEDA list names …),
#   - redis.conf: a real redis-server starts with it and reports its settings,
#   - deploy/sentinel/: a real master, replica and three sentinels run the committed configs,
#     agree on the master, fail over when it is killed, and the liveness probe follows them,
#   - deploy/cluster/: six real nodes from the committed configs joined by create-cluster.sh,
#     a real worker and producer through a master's kill -9 (scripts/lib/check-deploy-cluster.sh),
#   - the heartbeat liveness probe against a real worker, when examples/ is built.
# Prints "N passed, N failed" and exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib/deps.sh
ensure_packages systemd redis-server redis-sentinel redis-tools python3 python3-yaml

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
stop_pids() {  # stop_pids FILE: SIGTERM to each pid listed, then wait for it
    [ -f "$1" ] || return 0
    local p
    while read -r p; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done <"$1"
    while read -r p; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done <"$1"
    rm -f "$1"
}
WORK=$(mktemp -d /tmp/kale-check-deploy.XXXXXX)
# Servers a check started and did not stop (it failed half-way, or was interrupted) are in
# $WORK/*/pids: stopped by pid, like the rest.
trap 'for f in "$WORK"/*/pids; do stop_pids "$f"; done; rm -rf "$WORK"' EXIT

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
# Redis changes into the file's `dir` while reading it and exits if it is missing: the data
# volume must be mounted exactly there (a later --dir flag comes too late).
conf_dir = next(l.split()[1] for l in conf.splitlines() if l.startswith("dir "))
mounts = [v.split(":")[1] for v in s["redis"]["volumes"] if not v.startswith(".")]
assert conf_dir in mounts, f"redis.conf's dir {conf_dir} is not a mounted volume ({mounts})"
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
                   ("Secret", "kale-redis"), ("PersistentVolumeClaim", "kale-data"),
                   ("StatefulSet", "kale-redis-sentinel"), ("Service", "kale-redis-sentinel"),
                   ("Secret", "kale-redis-sentinel"), ("Deployment", "kale-worker-sentinel")]:
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

check "sentinel/compose.yaml: master, replica, 3 sentinels (quorum 2), 2 workers on redis+sentinel:// with KALE_REPLICAS" python3 - <<'PY'
import glob, os, re, subprocess, yaml
d = "deploy/sentinel"
c = yaml.safe_load(open(f"{d}/compose.yaml"))
s = c["services"]
def directives(path):
    return [l.split() for l in open(path) if l.strip() and not l.lstrip().startswith("#")]
sentinel_conf = directives(f"{d}/sentinel.conf")
monitor = next(l for l in sentinel_conf if l[:2] == ["sentinel", "monitor"])
master_name, first_master, port, quorum = monitor[2], monitor[3], monitor[4], int(monitor[5])
nodes = sorted(n for n in s if n.startswith("redis-"))
sentinels = sorted(n for n in s if n.startswith("sentinel-"))
assert len(nodes) == 2 and len(sentinels) == 3, (nodes, sentinels)
assert quorum == len(sentinels) // 2 + 1 == 2, f"quorum {quorum} of {len(sentinels)} sentinels"
for key in ("resolve-hostnames", "announce-hostnames"):
    assert ["sentinel", key, "yes"] in sentinel_conf, f"sentinel {key} yes: containers change addresses"
# Data nodes: the node's own file first (its role, rewritten by Sentinel), the shared settings after.
roles = {}
for n in nodes:
    svc = s[n]
    script = " ".join(svc["entrypoint"])
    mounts = {v.split(":")[0]: v.split(":")[1] for v in svc["volumes"] if v.startswith(".")}
    assert mounts.get("../redis.conf") and mounts.get("./redis.conf"), f"{n} mounts deploy/redis.conf and sentinel/redis.conf"
    assert f"--include {mounts['./redis.conf']}" in script, f"{n} includes sentinel/redis.conf on every start"
    assert '--replica-announce-ip "$$KALE_NAME"' in script and svc["environment"]["KALE_NAME"] == n, f"{n} announces its name"
    assert f"{n}:/var/lib/redis" in svc["volumes"], f"{n} keeps its data and its role in a volume"
    assert set(svc["secrets"]) == {"redis-auth", "redis-users"}, svc["secrets"]
    roles[n] = svc["environment"]["KALE_FIRST_ROLE"]
assert roles == {n: "" if n == first_master else f"replicaof {first_master} {port}" for n in nodes}, roles
node_conf = directives(f"{d}/redis.conf")
assert node_conf[0] == ["include", mounts["../redis.conf"]], "sentinel/redis.conf starts from deploy/redis.conf"
assert node_conf[-1] == ["include", "/run/secrets/redis-auth"], "the logins come last"
assert ["min-replicas-to-write", "0"] in node_conf
assert "replica is down" in open(f"{d}/redis.conf").read(), "why min-replicas-to-write is 0 is written down"
for n in sentinels:
    svc = s[n]
    script = " ".join(svc["entrypoint"])
    assert "./sentinel.conf:/etc/kale/sentinel.conf:ro" in svc["volumes"] and "cp /etc/kale/sentinel.conf" in script, f"{n} copies the template"
    assert '--sentinel announce-ip "$$KALE_NAME"' in script and svc["environment"]["KALE_NAME"] == n, f"{n} announces its name"
    assert "--include /run/secrets/sentinel-auth" in script and svc["secrets"] == ["sentinel-auth"], f"{n} includes its passwords"
# Workers: the URL from the env file, replicated results, deploy/compose.yaml's grace periods.
w = s["worker"]
assert w["deploy"]["replicas"] == 2, "two workers"
grace = float(w["command"][w["command"].index("--grace") + 1].rstrip("s"))
assert float(w["stop_grace_period"].rstrip("s")) > grace + 5, "stop_grace_period above the worker grace"
env = w["environment"]
assert "KALE_REDIS_URL" not in env, "the URL holds passwords: it comes from the env file"
assert int(env.get("KALE_REPLICAS", 0)) >= 1 and env.get("KALE_REPLICA_TIMEOUT"), "KALE_REPLICAS (1 or more) and KALE_REPLICA_TIMEOUT"
assert w["env_file"] == ["./secrets/kale.env"]
lines = [l.strip() for l in open(f"{d}/secrets.example/kale.env") if "=" in l and not l.startswith("#")]
url = dict(l.split("=", 1) for l in lines)["KALE_REDIS_URL"]
assert url.startswith("redis+sentinel://"), url
where = url.split("@", 1)[1]
assert where.split("/")[0].split(",") == [f"{n}:26379" for n in sentinels], f"the URL names every sentinel: {where}"
assert where.split("/")[1] == master_name and "sentinel_password=" in where, where
assert "/usr/local/bin/kale-worker-alive" in w["healthcheck"]["test"]
for name, svc in s.items():
    for dep in (svc.get("depends_on") or {}): assert dep in s, f"{name} depends on unknown {dep}"
# Secrets: files under secrets/ (git-ignored), an example of each, no password anywhere else.
for name, sec in c["secrets"].items():
    assert sec["file"] == f"./secrets/{name}" and os.path.exists(f"{d}/secrets.example/{name}"), name
assert subprocess.run(["git", "check-ignore", "-q", f"{d}/secrets/kale.env"]).returncode == 0, "deploy/sentinel/secrets/ must be git-ignored"
passwords = set()
for path in glob.glob(f"{d}/secrets.example/*"):
    passwords |= set(re.findall(r"CHANGE-ME-[A-Z]+", open(path).read()))
assert len(passwords) == 4, passwords
for path in [f"{d}/compose.yaml", f"{d}/sentinel.conf", f"{d}/redis.conf"]:
    text = open(path).read()
    assert not any(p in text for p in passwords), f"a password in {path}"
    settings = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    assert not re.search(r"requirepass|masterauth|auth-pass|sentinel-pass|user \S+ on", settings), f"a login in {path}"
PY

check "k8s: Sentinel StatefulSet (3 pods, quorum 2), headless Service, workers on redis+sentinel:// from a Secret" python3 - <<'PY'
import re, subprocess, yaml
docs = [x for x in yaml.safe_load_all(open("deploy/k8s/redis-sentinel.yaml")) if x]
by = {(x["kind"], x["metadata"]["name"]): x for x in docs}
sts = by[("StatefulSet", "kale-redis-sentinel")]
svc = by[("Service", sts["spec"]["serviceName"])]
assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True, "headless, names before readiness"
pods = sts["spec"]["replicas"]
assert pods == 3
spec = sts["spec"]["template"]["spec"]
cs = {c["name"]: c for c in spec["containers"]}
assert set(cs) == {"redis", "sentinel"}, "a data node and a sentinel per pod"
announce = f"$(POD_NAME).{svc['metadata']['name']}"
assert cs["redis"]["args"][-2:] == ["--replica-announce-ip", announce], cs["redis"]["args"]
assert cs["sentinel"]["args"][-3:] == ["--sentinel", "announce-ip", announce], cs["sentinel"]["args"]
for c in list(cs.values()) + spec["initContainers"]:
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in c["env"], c["name"]
config = by[("ConfigMap", "kale-redis-sentinel-config")]["data"]
def directives(text): return [l.split() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
# deploy/sentinel/sentinel.conf's settings, but for the first master: pod 0.
k8s, compose = directives(config["sentinel.conf"]), directives(open("deploy/sentinel/sentinel.conf").read())
monitor = next(l for l in k8s if l[:2] == ["sentinel", "monitor"])
assert monitor[3] == f"{sts['metadata']['name']}-0.{svc['metadata']['name']}" and int(monitor[5]) == pods // 2 + 1 == 2, monitor
host_out = lambda ds: [l[:3] + l[4:] if l[:2] == ["sentinel", "monitor"] else l for l in ds]
assert host_out(k8s) == host_out(compose), "the ConfigMap's sentinel.conf drifted from deploy/sentinel/sentinel.conf"
redis = {l[0]: " ".join(l[1:]) for l in directives(config["redis.conf"])}
assert redis["maxmemory-policy"] == "noeviction" and redis["appendonly"] == "yes"
assert 1 <= int(redis["min-replicas-to-write"]) <= pods - 2, "min-replicas-to-write must survive one replica down"
# The logins are the compose example's, file for file.
auth = by[("Secret", "kale-redis-sentinel-auth")]["stringData"]
for key, text in auth.items():
    assert text == open(f"deploy/sentinel/secrets.example/{key}").read(), f"{key} drifted from deploy/sentinel/secrets.example"
items = {i["key"] for v in spec["volumes"] if "secret" in v for i in v["secret"]["items"]}
assert items == set(auth), items
assert spec["automountServiceAccountToken"] is False, "/run/secrets holds the logins"
# pre-stop's wait, then Redis's up to 10 s for a lagging replica, within the grace period.
script = config["kale-redis-sentinel.sh"]
subprocess.run(["sh", "-n"], input=script, text=True, check=True)
pre_stop = script.split("pre-stop)")[1]
wait = int(re.search(r"seq (\d+)", pre_stop).group(1)) * float(re.search(r"sleep ([\d.]+)", pre_stop).group(1))
assert spec["terminationGracePeriodSeconds"] >= wait + 10, f"grace {spec['terminationGracePeriodSeconds']} < pre-stop {wait} + 10"
assert "pre-stop" in cs["redis"]["lifecycle"]["preStop"]["exec"]["command"]
assert ("PodDisruptionBudget", "kale-redis-sentinel") in by
# Workers: worker.yaml's Deployment but for its name and the Redis environment.
url = by[("Secret", "kale-redis-sentinel")]["stringData"]["url"]
assert url.startswith("redis+sentinel://"), url
names = [f"{sts['metadata']['name']}-{i}.{svc['metadata']['name']}:26379" for i in range(pods)]
where = url.split("@", 1)[1]
assert where.split("/")[0].split(",") == names and where.split("/")[1] == monitor[2], url
ws = yaml.safe_load(open("deploy/k8s/worker-sentinel.yaml"))
c = ws["spec"]["template"]["spec"]["containers"][0]
env = {e["name"]: e for e in c["env"]}
assert env["KALE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "kale-redis-sentinel", "key": "url"}, "the URL from the Secret"
assert int(env.get("KALE_REPLICAS", {}).get("value", 0)) >= 1 and env.get("KALE_REPLICA_TIMEOUT"), "KALE_REPLICAS (1 or more) and KALE_REPLICA_TIMEOUT"
grace = float(c["args"][c["args"].index("--grace") + 1].rstrip("s"))
assert ws["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace + 5, "terminationGracePeriodSeconds above --grace plus the child stop grace"
w = next(x for x in yaml.safe_load_all(open("deploy/k8s/worker.yaml")) if x and x["kind"] == "Deployment")
def general(d, name):
    d = yaml.safe_load(re.sub(rf"{name}(?![-\w])", "NAME", yaml.safe_dump(d)))
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["env"] = [e for e in c["env"] if not e["name"].startswith(("KALE_REDIS", "KALE_REPLICA"))]
    return d
assert general(ws, "kale-worker-sentinel") == general(w, "kale-worker"), "worker-sentinel.yaml drifted from worker.yaml beyond the Redis environment"
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

# --- real servers from the committed files --------------------------------------------------
# The committed files with the container paths and names swapped for loopback ones; every
# swap must match, so a changed file fails here rather than testing something else.
swap() {  # swap FILE OLD NEW…: prints FILE with each OLD replaced by NEW
    local text
    text=$(cat "$1"); shift
    while [ $# -gt 0 ]; do
        [[ $text == *"$1"* ]] || { echo "'$1' not found" >&2; return 1; }
        text=${text//"$1"/"$2"}; shift 2
    done
    printf '%s\n' "$text"
}
until_true() {  # until_true SECONDS WHAT COMMAND…: polls COMMAND every 0.2 s
    local deadline=$((SECONDS + $1)) what=$2; shift 2
    until "$@"; do
        [ $SECONDS -lt $deadline ] || { echo "not within the deadline: $what"; return 1; }
        sleep 0.2
    done
}
# live_servers DIR STEPS: runs STEPS with servers under DIR (their pids in DIR/pids, their
# logs in DIR/*/log, shown when a step failed), then stops them by pid.
live_servers() {
    local dir=$1 status
    mkdir -p "$dir"
    LIVE_DIR=$dir "$2"
    status=$?
    if [ $status -ne 0 ]; then
        for log in "$dir"/*/log; do echo "--- ${log#"$dir"/}"; grep -v overcommit "$log" | tail -12; done
    fi
    stop_pids "$dir/pids"
    return $status
}

# --- deploy/sentinel: real processes ------------------------------------------------------
# A master, a replica and three sentinels as compose.yaml starts them (the node's own file,
# then sentinel/redis.conf, which includes deploy/redis.conf and the example logins; the
# sentinels from copies of sentinel.conf), on free loopback ports. They must agree on the
# master with a quorum, hold a replicated write through the master's SIGKILL, fail over,
# take the old master back as a replica, and the liveness probe must follow them.
sentinel_live() { live_servers "$WORK/sentinel" sentinel_steps; }
sentinel_steps() {
    local d=$LIVE_DIR src=deploy/sentinel
    local ports
    ports=($(python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])'))
    local p1=${ports[0]} p2=${ports[1]}
    for p in "${ports[@]}"; do [ "$p" != 6379 ] && [ "$p" != 26379 ] || { echo "picked a default port"; return 1; }; done
    mkdir -p "$d/secrets" "$d/etc"
    cp "$src"/secrets.example/* "$d/secrets/"
    swap "$src/secrets.example/redis-auth" /run/secrets/redis-users "$d/secrets/redis-users" >"$d/secrets/redis-auth" || return 1
    swap "$src/redis.conf" /etc/kale/kale.conf "$ROOT/deploy/redis.conf" /run/secrets/redis-auth "$d/secrets/redis-auth" \
        >"$d/etc/redis.conf" || return 1
    local spass kpass
    spass=$(sed -n 's/^requirepass //p' "$d/secrets/sentinel-auth")
    kpass=$(sed -n 's/^user kale on >\([^ ]*\) .*/\1/p' "$d/secrets/redis-users")
    [ -n "$spass" ] && [ -n "$kpass" ] || { echo "no passwords in secrets.example"; return 1; }

    # compose.yaml's entrypoints: the node's file holds its first role; the shared settings
    # follow on every start. Only the addresses differ (and the 5 s diskless-sync delay,
    # which would only slow the test down).
    start_node() {  # start_node N PORT
        redis-server "$d/redis-$1/redis.conf" --include "$d/etc/redis.conf" --replica-announce-ip 127.0.0.1 \
            --port "$2" --bind 127.0.0.1 --dir "$d/redis-$1" --logfile "$d/redis-$1/log" --daemonize no \
            --repl-diskless-sync-delay 0 >/dev/null 2>&1 &
        echo $! >>"$d/pids"
        eval "node_pid_$1=$!"
    }
    mkdir -p "$d/redis-1" "$d/redis-2"
    printf '\n' >"$d/redis-1/redis.conf"
    printf 'replicaof 127.0.0.1 %s\n' "$p1" >"$d/redis-2/redis.conf"
    start_node 1 "$p1"
    start_node 2 "$p2"
    local i sp sentinel_ports=()
    for i in 1 2 3; do
        sp=${ports[$((i + 1))]}
        sentinel_ports+=("$sp")
        mkdir -p "$d/sentinel-$i"
        swap "$src/sentinel.conf" "kale-master redis-1 6379" "kale-master 127.0.0.1 $p1" >"$d/sentinel-$i/sentinel.conf" || return 1
        redis-sentinel "$d/sentinel-$i/sentinel.conf" --include "$d/secrets/sentinel-auth" --sentinel announce-ip 127.0.0.1 \
            --port "$sp" --dir "$d/sentinel-$i" --logfile "$d/sentinel-$i/log" --daemonize no >/dev/null 2>&1 &
        echo $! >>"$d/pids"
    done
    sentinel_cli() { REDISCLI_AUTH=$spass redis-cli -p "$1" --no-auth-warning --raw "${@:2}"; }
    kale_cli() { REDISCLI_AUTH=$kpass redis-cli -p "$1" --user kale --no-auth-warning --raw "${@:2}"; }
    named() {  # named PORT: every sentinel names 127.0.0.1:PORT as the master
        local sp
        for sp in "${sentinel_ports[@]}"; do
            [ "$(sentinel_cli "$sp" sentinel get-master-addr-by-name kale-master | tr '\n' ' ')" = "127.0.0.1 $1 " ] || return 1
        done
    }
    # ...and each sees the two others and a healthy replica, and has a quorum.
    agreed() {  # agreed PORT
        local sp
        named "$1" || return 1
        for sp in "${sentinel_ports[@]}"; do
            [ "$(sentinel_cli "$sp" sentinel sentinels kale-master | grep -c '^name$')" = 2 ] || return 1
            sentinel_cli "$sp" sentinel replicas kale-master | awk 'p == "flags" && $0 == "slave" { ok = 1 } { p = $0 } END { exit !ok }' || return 1
            sentinel_cli "$sp" sentinel ckquorum kale-master | grep -q '^OK' || return 1
        done
    }
    until_true 30 "the sentinels agree on 127.0.0.1:$p1 with a quorum" agreed "$p1" || return 1
    sentinel_cli "${sentinel_ports[0]}" sentinel ckquorum kale-master

    # As KALE_REPLICAS=1 does: a write, then WAIT for one replica, as the kale user.
    [ "$(kale_cli "$p1" role | head -1)" = master ] || { echo "ROLE is not master for the kale user"; return 1; }
    # WAIT counts what the replicas hold of this connection's writes: one redis-cli for both.
    write_wait() {  # write_wait KEY TIMEOUT-MS: the replicas that acknowledged the write
        printf 'SET %s yes\nWAIT 1 %s\n' "$1" "$2" | kale_cli "$p1" | tail -1
    }
    replicated() { [ "$(write_wait kale:check:replicated 1000)" = 1 ]; }
    until_true 20 "a write acknowledged by the replica (WAIT 1)" replicated || return 1
    # The replica stopped: WAIT counts none, and a replicated enqueue fails with "not replicated".
    kill -STOP "$node_pid_2"
    local acked
    acked=$(write_wait kale:check:unreplicated 300)
    kill -CONT "$node_pid_2"
    [ "$acked" = 0 ] || { echo "WAIT counted '$acked' replicas with the replica stopped"; return 1; }

    # The liveness probe through the sentinels: a heartbeat of a stand-in worker process.
    local url pid alive=deploy/container/kale-worker-alive out
    url=$(swap "$src/secrets.example/kale.env" sentinel-1:26379 "127.0.0.1:${sentinel_ports[0]}" \
        sentinel-2:26379 "127.0.0.1:${sentinel_ports[1]}" sentinel-3:26379 "127.0.0.1:${sentinel_ports[2]}" \
        | sed -n 's/^KALE_REDIS_URL=//p') || return 1
    sleep 300 >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >>"$d/pids"
    out=$(KALE_REDIS_URL=$url KALE_WORKER_PID=$pid $alive) && { echo "probe passes without a heartbeat: $out"; return 1; }
    kale_cli "$p1" zadd kale:workers 0 "$(hostname)-$pid-check" >/dev/null
    kale_cli "$p1" hset "kale:worker:$(hostname)-$pid-check" pid "$pid" >/dev/null
    out=$(KALE_REDIS_URL=$url KALE_WORKER_PID=$pid $alive) && [ -z "$out" ] \
        || { echo "probe through the sentinels fails for a live heartbeat: $out"; return 1; }

    # The master dies: two sentinels agree, one is elected, the replica is promoted and has
    # the replicated write; the probe finds the heartbeat there.
    kill -KILL "$node_pid_1"
    wait "$node_pid_1" 2>/dev/null
    sed -i "/^$node_pid_1\$/d" "$d/pids"
    promoted() { named "$p2" && [ "$(kale_cli "$p2" role | head -1)" = master ]; }
    until_true 30 "a failover to 127.0.0.1:$p2 that every sentinel names" promoted || return 1
    [ "$(kale_cli "$p2" get kale:check:replicated)" = yes ] || { echo "the replicated write is not on the new master"; return 1; }
    out=$(KALE_REDIS_URL=$url KALE_WORKER_PID=$pid $alive) && [ -z "$out" ] \
        || { echo "probe does not follow the failover: $out"; return 1; }

    # The old master restarts as compose restarts it: from its own file, which still says
    # master. Sentinel turns it into a replica and rewrites that file, so it stays one.
    start_node 1 "$p1"
    demoted() { [ "$(kale_cli "$p1" role | head -1)" = slave ] && grep -q "^replicaof 127.0.0.1 $p2" "$d/redis-1/redis.conf"; }
    until_true 40 "the old master back as a replica of 127.0.0.1:$p2, in its own file" demoted || return 1
    until_true 30 "the sentinels agree again with the old master as a replica" agreed "$p2" || return 1
}
check "sentinel: real master, replica, 3 sentinels agree, hold a replicated write through a failover; the probe follows" sentinel_live

# --- deploy/cluster and k8s/redis-cluster.yaml --------------------------------------------
source scripts/lib/check-deploy-cluster.sh
check "cluster: compose (6 nodes, create-cluster, workers on redis+cluster://) and k8s manifests agree, no login in them" cluster_files
check "cluster: 6 real nodes from the committed files, kale worker and enqueue --wait ride a kill -9 of a master; the probe follows" cluster_live

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
