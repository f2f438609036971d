#!/usr/bin/env bash
# echo_static (bindings/c/examples/echo.c linked with the sealed libfiberws.a) is one self-contained executable:
# it needs only system libraries, and it serves the seed example from a directory with no libfiberws.so in it,
# with LD_LIBRARY_PATH unset, to Node's ws and Python's websockets (interop/run_example_interop.sh).
# Usage: run_static_example.sh ECHO_STATIC NODE_MODULES_DIR
set -uo pipefail   # no -e: every check runs and is counted
bin=$1; node_modules=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() { if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $2"; fi; }

cp "$bin" "$tmp/echo_static" || exit 1
env -u LD_LIBRARY_PATH ldd "$tmp/echo_static" >"$tmp/ldd"
echo "--- ldd echo_static"; cat "$tmp/ldd"
! grep -qi fiberws "$tmp/ldd"; check $? "ldd shows no libfiberws"
! grep -q 'not found' "$tmp/ldd"; check $? "every library is found"
# Only the C library family, the dynamic loader and the vDSO, all from the system directories.
! grep -vE '^\s*(linux-vdso\.so\.1|/lib64/ld-linux[^ ]*\.so\.[0-9]+|(libc|libm|libdl|librt|libpthread|libgcc_s)\.so\.[0-9]+ => /(usr/)?lib(64)?/)' "$tmp/ldd" >"$tmp/other"
check $? "only system libraries; also: $(cat "$tmp/other")"
! readelf -d "$tmp/echo_static" | grep -qE 'RPATH|RUNPATH'; check $? "no RPATH/RUNPATH"

echo "--- echo_static: $(du -k "$bin" | cut -f1) KiB; serving from $tmp ($(ls "$tmp" | tr '\n' ' '))"
env -u LD_LIBRARY_PATH bash "$here/../interop/run_example_interop.sh" "$tmp/echo_static" "$node_modules"
check $? "the seed example echoes through echo_static"

echo "echo_static: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
