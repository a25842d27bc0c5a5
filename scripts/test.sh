#!/usr/bin/env bash
# Runs Kale's whole test suite from a fresh clone: installs what is missing (Debian), builds,
# and runs the tests. The tests start their own redis-server on a free loopback port (never
# 6379) and stop it at exit; set KALE_TEST_REDIS_URL to use a server of your own instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_packages pkg-config libhiredis-dev redis-server redis-tools

swift build --build-tests
# One test at a time: several tests assert timings (a delay honoured within 100 ms, backoff
# gaps) that two cores shared by parallel tests, worker daemons and Redis cannot promise.
# The worker tests spawn the debug `kale` binary built above.
swift test --skip-build --no-parallel 2>&1 | tee .build/test-output.txt
status=${PIPESTATUS[0]}
# Leave no server behind, even if a test process died before its exit handler ran: only
# orphans (parent gone, so re-parented to init) are ours to stop.
pkill -P 1 -f 'kale-test-redis-' 2>/dev/null || true
exit "$status"
