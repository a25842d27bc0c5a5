#!/usr/bin/env bash
# Runs Kale's whole test suite from a fresh clone: installs what is missing (Debian), builds,
# and runs the tests. The tests start their own redis-server on a free loopback port (never
# 6379) and stop it at exit; set KALE_TEST_REDIS_URL to use a server of your own instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_packages pkg-config libhiredis-dev redis-server redis-tools

swift build --build-tests
# Tests that spawn worker processes need the release-independent debug binaries built above.
swift test --skip-build --parallel 2>&1 | tee .build/test-output.txt
status=${PIPESTATUS[0]}
# Leave no server behind, even if a test process died before its exit handler ran.
pkill -f 'kale-test-redis-' 2>/dev/null || true
exit "$status"
