#!/usr/bin/env bash
# Tests the examples package and the deployment files, from a fresh clone:
#   bash scripts/test-examples.sh
# Installs what is missing (Debian packages), builds examples/ (debug), runs its tests (they
# start their own redis-server on a free loopback port and real ExampleWorker processes),
# then checks deploy/ with scripts/check-deploy.sh. Set KALE_TEST_REDIS_URL to test against a
# server of your own instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_packages pkg-config libhiredis-dev redis-server redis-tools \
    libvips-dev libcairo2-dev libpango1.0-dev libpoppler-glib-dev fonts-dejavu-core

# The worker-process tests run the ExampleWorker executable, so build everything first.
swift build --package-path examples --build-tests
status=0
swift test --package-path examples --skip-build || status=$?
bash scripts/check-deploy.sh || status=$?
exit "$status"
