#!/usr/bin/env bash
# The web dashboard's tests (Tests/dashboard): the real kale-full, kale worker and a
# redis-server of their own, driven by Debian's headless chromium through Selenium (pinned in
# scripts/requirements-dashboard.txt, installed into .venv-test/). Screenshots go to
# .test-output/dashboard/. Run after the core tests: Hummingbird is built only here.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
source scripts/lib/python-venv.sh
ensure_packages pkg-config libhiredis-dev redis-server redis-tools chromium chromium-driver || exit 1
ensure_test_venv || exit 1

swift build --product kale || exit 1
swift build --product kale-full || exit 1
swift build --product kale-dashboard-checks || exit 1
mkdir -p .test-output/dashboard
status=0
# What needs the dashboard linked in-process (its help page, its enqueue API with a task's
# registered defaults): the core test bundle does not link Hummingbird.
.build/debug/kale-dashboard-checks || status=1
# The core tests that need the kale-full binary (the read-only dashboard under its ACL role).
swift build --product KalePackageTests || exit 1
KALE_TEST_WITH_DASHBOARD=1 swift test --skip-build --no-parallel --filter 'ACLRoleTests/webDashboardServesEveryPageAsTheDashboardRole' || status=1
# unittest, no pytest: one file of tests, each class with its own servers.
.venv-test/bin/python -m unittest discover -s Tests/dashboard -p 'test_*.py' -v || status=1
# Tracing through kale-full's OTLP exporter, read back by a real OTLP/HTTP receiver.
.venv-test/bin/python -m unittest discover -s Tests/observability -p 'test_*.py' -v || status=1
exit "${status:-0}"
