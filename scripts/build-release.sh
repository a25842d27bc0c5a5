#!/usr/bin/env bash
# Builds release executables the way they are deployed (deploy/container does this too):
#   - the Swift runtime, Foundation and libstdc++ linked in, so no toolchain is needed to run;
#   - linked by lld with packed relative relocations (glibc 2.36+), so a process does not map
#     ~1.9 MiB of relocation table at start;
#   - functions placed in the order of deploy/link/kale.order (see scripts/order-file.sh), so
#     the code a worker runs sits in few pages. The kernel maps file pages in 64 KiB windows
#     around each fault: scattered code made each process ~10 MiB resident in text it barely
#     used (docs/decisions/0014-release-link-order.md).
#
# usage: scripts/build-release.sh [--package-path DIR] [--scratch-path DIR] PRODUCT...
# Prints the folder holding the executables on its last line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
package="$root"
scratch=""
products=()
while [ $# -gt 0 ]; do
    case "$1" in
        --package-path) package="$(cd "$2" && pwd)"; shift 2 ;;
        --scratch-path) scratch="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "build-release.sh: unknown option '$1'" >&2; echo "hint: scripts/build-release.sh --help" >&2; exit 2 ;;
        *) products+=("$1"); shift ;;
    esac
done
[ ${#products[@]} -gt 0 ] || { echo "build-release.sh: name at least one product" >&2; echo "hint: scripts/build-release.sh kale" >&2; exit 2; }
scratch="${scratch:-$package/.build-deploy}"
mkdir -p "$scratch"
scratch="$(cd "$scratch" && pwd)"

# swiftc's static-stdlib link line asks for -lstdc++; a search folder holding only the archive
# makes lld take the archive instead of libstdc++.so, so its functions can be ordered too.
archive="$(clang -print-file-name=libstdc++.a 2>/dev/null || true)"
if [ ! -f "$archive" ]; then archive="$( (ls /usr/lib/gcc/*/*/libstdc++.a 2>/dev/null || true) | sort -V | tail -1)"; fi
[ -f "$archive" ] || { echo "build-release.sh: libstdc++.a not found (install libstdc++-12-dev)" >&2; exit 1; }
mkdir -p "$scratch/static-libstdcxx"
ln -sf "$archive" "$scratch/static-libstdcxx/libstdc++.a"

flags=(-c release --static-swift-stdlib
       -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
       -Xlinker -L"$scratch/static-libstdcxx")
# Absent only while scripts/order-file.sh makes the first one.
order="$root/deploy/link/kale.order"
[ -f "$order" ] && flags+=(-Xlinker --symbol-ordering-file="$order" -Xlinker --no-warn-symbol-ordering)
bin="$(swift build --package-path "$package" --scratch-path "$scratch" "${flags[@]}" --show-bin-path)"
for product in "${products[@]}"; do
    # SwiftPM relinks when a flag changes, not when the order file does: link afresh each time.
    rm -f "$bin/$product"
    swift build --package-path "$package" --scratch-path "$scratch" "${flags[@]}" --product "$product" >&2
done
echo "$bin"
