# deploy/cluster and deploy/k8s/redis-cluster.yaml, for scripts/check-deploy.sh (which
# defines check, swap, until_true, live_servers, WORK and ROOT): the files agree with each other, and the committed
# configuration runs as six real redis-server processes on loopback, joined by the committed
# create-cluster.sh, with a real `kale worker` and `kale enqueue --wait` on redis+cluster://
# through a kill -9 of a master.

cluster_files() {
    python3 - <<'PY'
import re, subprocess, yaml
d = "deploy/cluster"
c = yaml.safe_load(open(f"{d}/compose.yaml"))
s = c["services"]
nodes = sorted(n for n in s if re.fullmatch(r"redis-\d", n))
assert len(nodes) == 6, f"six nodes (three masters, a replica each): {nodes}"
for n in nodes:
    svc = s[n]
    assert svc["environment"]["KALE_NAME"] == n, f"{n} announces its own name"
    assert '--cluster-announce-hostname "$$KALE_NAME"' in " ".join(svc["command"]), f"{n} announces KALE_NAME"
    assert f"{n}:/var/lib/redis" in svc["volumes"], f"{n} keeps nodes.conf in a volume of its own"
    assert "./redis.conf:/etc/kale/redis.conf:ro" in svc["volumes"] and "../redis.conf:/etc/kale/kale.conf:ro" in svc["volumes"]
create = s["create-cluster"]
assert create["command"][2:] == [f"{n}:6379" for n in nodes], "create-cluster.sh is given every node"
assert set(create["depends_on"]) == set(nodes) and create["restart"] == "no"
w = s["worker"]
assert w["depends_on"] == {"create-cluster": {"condition": "service_completed_successfully"}}
assert w["stop_grace_period"] == "45s" and "30s" in w["command"], "the stop grace outlasts the worker's"
env = open(f"{d}/secrets.example/kale.env").read()
url = re.search(r"^KALE_REDIS_URL=(\S+)$", env, re.M).group(1)
assert url.startswith("redis+cluster://kale:"), url
seeds = url.split("@")[1].split(",")
assert all(x in [f"{n}:6379" for n in nodes] for x in seeds) and len(seeds) >= 3, f"seeds are nodes: {seeds}"
conf = open(f"{d}/redis.conf").read()
for want in ["cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-preferred-endpoint-type hostname",
             "include /etc/kale/kale.conf", "include /run/secrets/redis-auth"]:
    assert re.search(rf"^{re.escape(want)}$", conf, re.M), f"redis.conf: {want}"
assert subprocess.run(["git", "check-ignore", "-q", f"{d}/secrets/kale.env"]).returncode == 0, "deploy/cluster/secrets/ must be git-ignored"
for path in [f"{d}/compose.yaml", f"{d}/redis.conf", f"{d}/create-cluster.sh"]:
    settings = "\n".join(l for l in open(path).read().splitlines() if not l.lstrip().startswith("#"))
    assert "CHANGE-ME" not in settings and not re.search(r"requirepass|masterauth|user \S+ on|-a \S", settings), f"a login in {path}"

# Kubernetes: the same configuration, from a ConfigMap that must not drift from these files.
docs = [x for x in yaml.safe_load_all(open("deploy/k8s/redis-cluster.yaml")) if x]
by = {(x["kind"], x["metadata"]["name"]): x for x in docs}
sts = by[("StatefulSet", "kale-redis-cluster")]
assert sts["spec"]["replicas"] == 6 and sts["spec"]["serviceName"] == "kale-redis-cluster"
assert by[("Service", "kale-redis-cluster")]["spec"]["clusterIP"] == "None", "a headless Service names each pod"
ports = {p["name"]: p["port"] for p in by[("Service", "kale-redis-cluster")]["spec"]["ports"]}
assert ports == {"redis": 6379, "bus": 16379}, ports
container = sts["spec"]["template"]["spec"]["containers"][0]
assert "--cluster-announce-hostname" in container["args"], "each pod announces its DNS name"
config = by[("ConfigMap", "kale-redis-cluster-config")]["data"]
assert config["redis.conf"] == conf, "the ConfigMap's redis.conf drifted from deploy/cluster/redis.conf"
assert config["kale.conf"] == open("deploy/redis.conf").read(), "the ConfigMap's kale.conf drifted from deploy/redis.conf"
assert config["create-cluster.sh"] == open(f"{d}/create-cluster.sh").read(), "create-cluster.sh drifted"
job = by[("Job", "kale-redis-cluster-create")]
args = job["spec"]["template"]["spec"]["containers"][0]["args"]
assert args[-6:] == [f"kale-redis-cluster-{i}.kale-redis-cluster:6379" for i in range(6)], args
auth = by[("Secret", "kale-redis-cluster-auth")]["stringData"]
for key in ["redis-auth", "redis-users", "admin-password"]:
    assert auth[key] == open(f"{d}/secrets.example/{key}").read(), f"{key} drifted from deploy/cluster/secrets.example"
assert by[("PodDisruptionBudget", "kale-redis-cluster")]["spec"]["maxUnavailable"] == 1
wc = yaml.safe_load(open("deploy/k8s/worker-cluster.yaml"))
env = {e["name"]: e for e in wc["spec"]["template"]["spec"]["containers"][0]["env"]}
assert env["KALE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "kale-redis-cluster", "key": "url"}
k8s_url = by[("Secret", "kale-redis-cluster")]["stringData"]["url"]
assert k8s_url.startswith("redis+cluster://kale:") and "kale-redis-cluster-0.kale-redis-cluster:6379" in k8s_url, k8s_url
PY
}

cluster_live() { live_servers "$WORK/cluster" cluster_steps; }

cluster_steps() {
    local d=$LIVE_DIR src=deploy/cluster kale=$ROOT/.build/debug/kale
    if [ ! -x "$kale" ]; then swift build --product kale >/dev/null || { echo "cannot build kale"; return 1; }; fi
    local ports
    ports=($(python3 -c '
import socket
socks = [socket.socket() for _ in range(12)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])'))
    for p in "${ports[@]}"; do [ "$p" != 6379 ] && [ "$p" != 16379 ] || { echo "picked a default port"; return 1; }; done
    mkdir -p "$d/secrets" "$d/etc"
    cp "$src"/secrets.example/* "$d/secrets/"
    swap "$src/secrets.example/redis-auth" /run/secrets/redis-users "$d/secrets/redis-users" >"$d/secrets/redis-auth" || return 1
    swap "$src/redis.conf" /etc/kale/kale.conf "$ROOT/deploy/redis.conf" /run/secrets/redis-auth "$d/secrets/redis-auth" \
        >"$d/etc/redis.conf" || return 1
    local kpass
    kpass=$(sed -n 's/^user kale on >\([^ ]*\) .*/\1/p' "$d/secrets/redis-users")
    [ -n "$kpass" ] || { echo "no kale password in secrets.example"; return 1; }
    kale_cli() { REDISCLI_AUTH=$kpass redis-cli -c -p "$1" --user kale --no-auth-warning --raw "${@:2}"; }

    # As compose.yaml starts a node, on loopback: the announced name is an address here, and
    # nodes time each other out after 1 s instead of 5 (only to keep the check short).
    start_node() {  # start_node N
        local port=${ports[$1]} bus=${ports[$(($1 + 6))]}
        mkdir -p "$d/redis-$1"
        redis-server "$d/etc/redis.conf" --cluster-announce-hostname 127.0.0.1 --port "$port" --cluster-port "$bus" \
            --bind 127.0.0.1 --dir "$d/redis-$1" --logfile "$d/redis-$1/log" --daemonize no \
            --cluster-node-timeout 1000 --repl-diskless-sync-delay 0 >/dev/null 2>&1 &
        echo $! >>"$d/pids"
        eval "node_pid_$1=$!"
    }
    local i addresses=()
    for i in 0 1 2 3 4 5; do start_node "$i"; addresses+=("127.0.0.1:${ports[$i]}"); done
    KALE_ADMIN_PASSWORD_FILE=$d/secrets/admin-password sh "$src/create-cluster.sh" "${addresses[@]}" >"$d/create.log" 2>&1 \
        || { cat "$d/create.log"; return 1; }
    local again
    again=$(KALE_ADMIN_PASSWORD_FILE=$d/secrets/admin-password sh "$src/create-cluster.sh" "${addresses[@]}" 2>&1) || { echo "$again"; return 1; }
    [[ $again == *"nothing to do"* ]] || { echo "create-cluster.sh run twice did more: $again"; return 1; }
    healthy() {
        local port
        for port in "${ports[@]:0:6}"; do
            kale_cli "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
        done
    }
    until_true 30 "every node says cluster_state:ok" healthy || return 1
    redis-cli -p "${ports[0]}" get x 2>&1 | grep -q NOAUTH || { echo "the default user is not off"; return 1; }
    # Clients are given the announced name with each slot.
    kale_cli "${ports[0]}" cluster slots | grep -q '^127.0.0.1$' || { echo "CLUSTER SLOTS names no announced host"; return 1; }

    # A real worker and producer on the committed URL, with the seeds swapped for these.
    local url
    url=$(swap "$src/secrets.example/kale.env" redis-1:6379 "127.0.0.1:${ports[0]}" redis-2:6379 "127.0.0.1:${ports[1]}" \
        redis-3:6379 "127.0.0.1:${ports[2]}" | sed -n 's/^KALE_REDIS_URL=//p') || return 1
    KALE_REDIS_URL=$url KALE_REPLICAS=1 "$kale" worker --concurrency 2 --diagnostics --queues default,reports \
        >"$d/worker.log" 2>&1 &
    local worker=$!
    echo "$worker" >>"$d/pids"
    local out
    out=$(KALE_REDIS_URL=$url KALE_REPLICAS=1 timeout 60 "$kale" enqueue kale.sleep --args '{"ms":5}' --count 50 --wait 2>&1) \
        || { echo "enqueue --wait on the cluster failed: $out"; tail -20 "$d/worker.log"; return 1; }
    local alive=deploy/container/kale-worker-alive
    beating() { KALE_REDIS_URL=$url KALE_WORKER_PID=$worker $alive >/dev/null; }
    until_true 20 "the liveness probe finds the worker's heartbeat on the cluster" beating || return 1

    # The master of the default queue's slot dies; its replica takes over and the worker,
    # the producer and the probe carry on.
    slot_owner() {  # slot_owner PORT SLOT: the port of the live master serving SLOT, as PORT sees it
        kale_cli "$1" cluster nodes | python3 -c '
import sys
slot = int(sys.argv[1])
for line in sys.stdin:
    f = line.split()
    if len(f) < 8 or "master" not in f[2].split(",") or "fail" in f[2]: continue
    for r in f[8:]:
        if r.startswith("["): continue
        lo, _, hi = r.partition("-")
        if int(lo) <= slot <= int(hi or lo): print(f[1].split("@")[0].rsplit(":", 1)[1])' "$2"
    }
    local slot owner victim=
    slot=$(kale_cli "${ports[0]}" cluster keyslot 'kale:{default}:pending:1')
    owner=$(slot_owner "${ports[0]}" "$slot")
    for i in 0 1 2 3 4 5; do [ "${ports[$i]}" = "$owner" ] && victim=$i; done
    [ -n "$victim" ] || { echo "no node owns slot $slot"; return 1; }
    local victim_pid witness=${ports[$(((victim + 1) % 6))]}
    eval "victim_pid=\$node_pid_$victim"
    kill -KILL "$victim_pid"
    wait "$victim_pid" 2>/dev/null
    sed -i "/^$victim_pid\$/d" "$d/pids"
    moved() {
        local now
        now=$(slot_owner "$witness" "$slot")
        [ -n "$now" ] && [ "$now" != "$owner" ] && kale_cli "$now" cluster info | grep -q '^cluster_state:ok'
    }
    until_true 30 "a replica takes over slot $slot from port $owner" moved || return 1
    # Restarted as compose restarts it (its nodes.conf kept), the old master rejoins as the
    # new one's replica, and replicated enqueues on that shard can be acknowledged again.
    start_node "$victim"
    rejoined() {
        local info
        info=$(kale_cli "$owner" info replication 2>/dev/null | tr -d '\r')
        grep -qx 'role:slave' <<<"$info" && grep -qx 'master_link_status:up' <<<"$info"
    }
    until_true 30 "port $owner back as a replica of the new master" rejoined || return 1
    out=$(KALE_REDIS_URL=$url KALE_REPLICAS=1 timeout 60 "$kale" enqueue kale.sleep --args '{"ms":5}' --count 50 --wait 2>&1) \
        || { echo "enqueue --wait after the failover failed: $out"; tail -20 "$d/worker.log"; return 1; }
    until_true 20 "the probe finds the heartbeat after the failover" beating || return 1
    kill -TERM "$worker"
    wait "$worker"
    local rc=$?
    sed -i "/^$worker\$/d" "$d/pids"
    [ "$rc" = 0 ] || { echo "the worker exited $rc after SIGTERM"; tail -20 "$d/worker.log"; return 1; }
    ! grep -q CROSSSLOT "$d/worker.log" || { echo "CROSSSLOT in the worker's log"; return 1; }
}
