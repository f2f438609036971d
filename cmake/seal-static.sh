#!/usr/bin/env bash
# Seals the NativeAOT static library into one self-contained object (STYLE §7.5):
#   ld -r      libfiberws.o + the runtime archives listed in libfiberws.linkdeps -> one relocatable object
#   objcopy    every global symbol but the fws_* exports of the shared library becomes local
#   ar rcs     libfiberws.a holding that single object
# A consumer then links with only `libfiberws.a` and the system libraries (-ldl -lrt -lm -pthread); none of the
# runtime's ~11,000 global symbols (managed code, Rhp*, minipal, zlib, brotli) can clash with the host program.
#
# Usage: seal-static.sh RAW_ARCHIVE LINKDEPS SHARED_LIBRARY OUT_ARCHIVE SYSLIB...
#   RAW_ARCHIVE      libfiberws.a from `dotnet publish -p:NativeLib=Static`
#   LINKDEPS         libfiberws.linkdeps written next to it by the FwsWriteLinkDeps target (Fiberws.csproj)
#   SHARED_LIBRARY   libfiberws.so of the same sources: its dynamic fws_* symbols are the export list
#   SYSLIB...        the system libraries the packages declare (e.g. dl rt m pthread); a -l in LINKDEPS that is
#                    not among them fails the build, so the declared list cannot silently fall behind
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 RAW_ARCHIVE LINKDEPS SHARED_LIBRARY OUT_ARCHIVE SYSLIB..." >&2; exit 2; }
raw=$(realpath "$1"); deps=$2; so=$3; out=$4; shift 4
declared=" $* "
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The export list: what the shared library exports under the fws_ prefix (DotNetRuntimeDebugHeader, the only
# other dynamic symbol, serves debuggers attaching to the .so and is not part of the API).
nm -D --defined-only --without-symbol-versions "$so" | awk '$2 == "T" && $3 ~ /^fws_/ { print $3 }' | sort -u >"$tmp/exports"
[ -s "$tmp/exports" ] || { echo "seal-static: no fws_* exports found in $so" >&2; exit 1; }

inputs=()
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        '') ;;
        -l*)
            case "$declared" in
                *" ${line#-l} "*) ;;
                *) echo "seal-static: $deps asks for $line, which the packages do not declare (FWS_STATIC_SYSTEM_LIBS)" >&2; exit 1 ;;
            esac ;;
        -*) echo "seal-static: unexpected option in $deps: $line" >&2; exit 1 ;;
        *) inputs+=("$line") ;;
    esac
done <"$deps"

mkdir "$tmp/raw"
(cd "$tmp/raw" && ar x "$raw")
members=()
for m in $(ar t "$raw"); do members+=("$tmp/raw/$m"); done

# Archives only contribute the members something references; the group lets them refer to each other in any order.
ld -r -o "$tmp/all.o" "${members[@]}" --start-group "${inputs[@]}" --end-group
objcopy --strip-debug --keep-global-symbols="$tmp/exports" "$tmp/all.o" "$tmp/libfiberws.o"

nm -g --defined-only "$tmp/libfiberws.o" | awk '{ print $3 }' | sort -u >"$tmp/globals"
if ! cmp -s "$tmp/exports" "$tmp/globals"; then
    echo "seal-static: the sealed object's global symbols differ from the shared library's fws_* exports:" >&2
    diff "$tmp/exports" "$tmp/globals" >&2 || true
    exit 1
fi

rm -f "$out.tmp"
ar rcsD "$out.tmp" "$tmp/libfiberws.o"
mv -f "$out.tmp" "$out"
echo "seal-static: $(wc -l <"$tmp/exports") exports, $(du -k "$out" | cut -f1) KiB -> $out"
