#!/usr/bin/env bash
# Runs Kale's whole test suite from a fresh clone: the core package, then the examples
# package and the deployment-file checks. Installs what is missing (Debian), builds, tests.
# The tests start their own redis-server on a free loopback port (never 6379) and stop it at
# exit; set KALE_TEST_REDIS_URL to use a server of your own instead.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
source scripts/lib/python-venv.sh
# redis-sentinel for the Sentinel failover tests (docs/high-availability.md).
ensure_packages pkg-config libhiredis-dev redis-server redis-sentinel redis-tools || exit 1
# A real Celery (pinned) for the Celery bridge's tests, in .venv-test/.
ensure_test_venv || exit 1

status=0
# The products the core tests use, not --build-tests: that would build every target,
# kale-full's Hummingbird and NIO included, before the first core test could run.
swift build --product kale && swift build --product KalePackageTests && swift build --product kale-bench || exit 1

# One test at a time: several tests assert timings (a delay honoured within 100 ms, backoff
# gaps) that two cores shared by parallel tests, worker daemons and Redis cannot promise.
# The worker and CLI tests spawn the debug `kale` binary built above. The later stages'
# builds are not overlapped with these tests, even at idle priority: in the one run tried
# (with other work on the machine too) the tests took a third longer (715 s against 534) and
# a Sentinel failover run missed its deadline, while timing is what several tests assert.
swift test --skip-build --no-parallel || status=1

# The memory ceiling of the stand-alone worker in a release build, where the optimiser once
# removed kale.alloc's work: the build that deploy/ ships (scripts/build-release.sh), which
# check-deploy.sh checks too, so one release build serves both.
mkdir -p .test-output
release_bin=$(scripts/build-release.sh kale 2>.test-output/release-build.log | tail -1) \
    && bash scripts/check-release-limits.sh --kale "$release_bin/kale" || { tail -20 .test-output/release-build.log; status=1; }

# The examples (libvips, cairo, poppler, the HTTP service) and deploy/ checks.
bash scripts/test-examples.sh || status=1

# The web dashboard in headless Chromium; builds kale-full (Hummingbird) first. After the
# others, never beside them: its live-update tests need both cores.
bash scripts/test-dashboard.sh || status=1

# deploy/prometheus and deploy/grafana on a real Prometheus scraping a worker and kale-full.
bash scripts/check-metrics-deploy.sh || status=1

# Leave no server behind, even if a test process died before its exit handler ran: only
# orphans (parent gone, so re-parented to init) are ours to stop.
pkill -P 1 -f 'kale-test-redis-' 2>/dev/null || true
if [ "$status" -eq 0 ]; then echo "kale: all test suites passed"; else echo "kale: some tests FAILED"; fi
exit "$status"
