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

# The examples build in the core package's build folder: their graph is the core's plus their
# own targets, with the same flags (Hummingbird's traits included), so every module the core's
# builds compiled is reused. In a folder of their own they compiled it all again: 628 s of a
# 47-minute CI run, against 21 s for their own targets once the core's kale-full was built.
# The worker-process tests run the ExampleWorker executable, so build everything first.
scratch="$PWD/.build"
swift build --package-path examples --scratch-path "$scratch" --build-tests
status=0
swift test --package-path examples --scratch-path "$scratch" --skip-build || status=$?
bash scripts/check-deploy.sh || status=$?
exit "$status"
