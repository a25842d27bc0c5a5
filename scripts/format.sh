#!/usr/bin/env bash
# Formats (or with --check, lints) the Swift sources with the toolchain's swift-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=(format --in-place)
[ "${1:-}" = "--check" ] && mode=(lint --strict)
exec swift format "${mode[@]}" --recursive --configuration .swift-format Sources Tests
