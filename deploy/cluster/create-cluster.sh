#!/bin/sh
# Joins fresh cluster nodes into one Redis Cluster: the first third become masters, each of
# the others a replica (redis-cli --cluster create … --cluster-replicas 1).
#   create-cluster.sh HOST:PORT…     (six for three masters with a replica each)
# Runs once per deployment but may be run again: when the first node already knows other
# nodes, it changes nothing. The admin login is read from the file KALE_ADMIN_PASSWORD_FILE
# (user KALE_ADMIN_USER, default kale-admin) into REDISCLI_AUTH, never onto a command line.
set -eu
user=${KALE_ADMIN_USER:-kale-admin}
REDISCLI_AUTH=$(cat "${KALE_ADMIN_PASSWORD_FILE:?the file with the admin password}")
export REDISCLI_AUTH
cli() { # cli HOST:PORT ARGS…
    node=$1; shift
    redis-cli --no-auth-warning --user "$user" -h "${node%:*}" -p "${node##*:}" "$@"
}
addresses=""
for node in "$@"; do
    tries=0
    until cli "$node" ping 2>/dev/null | grep -q PONG; do
        tries=$((tries + 1))
        [ "$tries" -lt 120 ] || { echo "create-cluster: $node does not answer PING" >&2; exit 1; }
        sleep 1
    done
    # redis-cli --cluster create wants addresses; the nodes announce names to clients.
    host=${node%:*}
    ip=$(getent hosts "$host" | awk '{ print $1; exit }')
    addresses="$addresses ${ip:-$host}:${node##*:}"
done
known=$(cli "$1" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')
if [ "${known:-1}" -gt 1 ]; then
    echo "create-cluster: $1 already knows $known nodes; nothing to do"
    exit 0
fi
# shellcheck disable=SC2086 # one argument per address
redis-cli --no-auth-warning --user "$user" --cluster create $addresses --cluster-replicas 1 --cluster-yes
