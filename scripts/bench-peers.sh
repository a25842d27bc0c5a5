#!/usr/bin/env bash
# Kale's default worker beside Sidekiq and Celery, the same no-op drain on one private
# redis-server in one run (`kale-bench peers`), reproducible on a fresh Debian machine:
#   ./scripts/bench-peers.sh [--tasks N] [--runs N] [--json]
# Installs what is missing: redis-server and Sidekiq (ruby-sidekiq) from Debian, the pinned
# Celery into .venv-test/ (as the test suite does); builds kale-bench in release.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
source scripts/lib/python-venv.sh
ensure_packages pkg-config libhiredis-dev redis-server redis-tools ruby-sidekiq
ensure_test_venv
swift build -c release --product kale-bench >&2
exec .build/release/kale-bench peers "$@"
