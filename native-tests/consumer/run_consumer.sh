#!/usr/bin/env bash
# The installed package, used the way a consumer would:
#   1. cmake --install into a temporary prefix, then MOVE the tree elsewhere (it must be relocatable);
#      check the layout, the SONAME symlinks and that no installed file names the build, source or staging path
#   2. this directory's CMake project: find_package(fiberws CONFIG) -> consumer_shared (fiberws::fiberws),
#      consumer_static (fiberws::fiberws_static, C) and consumer_static_cxx (the same, C++)
#   3. plain gcc command lines with `pkg-config --cflags --libs fiberws` and `... fiberws-static`
# Every program runs with LD_LIBRARY_PATH unset; ldd must show the shared ones loading libfiberws.so.0 from the
# installed prefix (found through their RPATH) and the static ones no libfiberws at all.
#
# Usage: run_consumer.sh BUILD_DIR SOURCE_DIR GENERATOR CC CXX LIBDIR INCLUDEDIR WITH_STATIC(ON|OFF)
set -uo pipefail   # no -e: every check runs and is counted
[ $# -eq 8 ] || { echo "usage: $0 BUILD_DIR SOURCE_DIR GENERATOR CC CXX LIBDIR INCLUDEDIR WITH_STATIC" >&2; exit 2; }
build=$(realpath "$1"); src=$(realpath "$2"); generator=$3; cc=$4; cxx=$5; libdir=$6; includedir=$7; with_static=$8
here=$(cd "$(dirname "$0")" && pwd)
unset LD_LIBRARY_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
static=0; [ "$with_static" = ON ] && static=1
passed=0; failed=0
check() { if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $2"; fi; }
fatal() { echo "FAIL: $*"; echo "package consumer: $passed passed, $((failed + 1)) failed"; exit 1; }

# 1. install, relocate, inspect
stage=$tmp/stage
prefix=$tmp/moved/prefix
cmake --install "$build" --prefix "$stage" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fatal "cmake --install"; }
mkdir -p "$tmp/moved" && mv "$stage" "$prefix" || fatal "moving the install tree"
lib=$prefix/$libdir
echo "--- installed tree (moved to $prefix)"
(cd "$prefix" && find . \( -type f -o -type l \) | sort | while read -r f; do
    if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f ($(du -k "$f" | cut -f1) KiB)"; fi
done)

expected=("$includedir/fiberws.h" "$libdir/libfiberws.so.0.1.0" "$libdir/cmake/fiberws/fiberwsConfig.cmake"
          "$libdir/cmake/fiberws/fiberwsConfigVersion.cmake" "$libdir/pkgconfig/fiberws.pc")
[ $static = 1 ] && expected+=("$libdir/libfiberws.a" "$libdir/pkgconfig/fiberws-static.pc")
for f in "${expected[@]}"; do
    [ -f "$prefix/$f" ] && [ ! -L "$prefix/$f" ]; check $? "installed file $f"
done
[ "$(readlink "$lib/libfiberws.so")" = libfiberws.so.0 ]; check $? "libfiberws.so -> libfiberws.so.0"
[ "$(readlink "$lib/libfiberws.so.0")" = libfiberws.so.0.1.0 ]; check $? "libfiberws.so.0 -> libfiberws.so.0.1.0"
readelf -d "$lib/libfiberws.so.0.1.0" | grep -q 'SONAME.*\[libfiberws\.so\.0\]'; check $? "SONAME libfiberws.so.0"
! grep -rlF -e "$stage" -e "$build" -e "$(realpath "$here/../..")" "$lib/cmake" "$lib/pkgconfig" >"$tmp/abs"
check $? "no absolute build/source/staging paths in the package files: $(cat "$tmp/abs")"

run() {   # run NAME BINARY SHARED(1|0)
    local name=$1 bin=$2 shared=$3 out
    [ -x "$bin" ] || { check 1 "$name was not built"; return; }
    out=$(env -u LD_LIBRARY_PATH "$bin" 2>&1); local rc=$?
    echo "--- $name: $(echo "$out" | tr '\n' ' ')"
    [ $rc -eq 0 ] && echo "$out" | grep -q '^ok$'; check $? "$name runs (exit $rc)"
    ldd "$bin" >"$tmp/ldd" 2>&1
    if [ "$shared" = 1 ]; then
        local loaded
        loaded=$(awk '/libfiberws/ { print $3 }' "$tmp/ldd")
        [ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "$lib/libfiberws.so.0.1.0")" ]
        check $? "$name loads the installed libfiberws.so.0 (ldd: $(grep libfiberws "$tmp/ldd"))"
    else
        ! grep -qi fiberws "$tmp/ldd"; check $? "$name needs no libfiberws.so (ldd: $(tr '\n' ' ' <"$tmp/ldd"))"
    fi
}

# 2. CMake: find_package(fiberws CONFIG)
cmake -S "$src" -B "$tmp/cmake-build" -G "$generator" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DWITH_STATIC="$with_static" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF >"$tmp/configure.log" 2>&1
check $? "consumer project configures: $(tail -20 "$tmp/configure.log")"
grep -F -- "-- fiberws" "$tmp/configure.log"
found_dir=$(sed -n 's/^fiberws_DIR:PATH=//p' "$tmp/cmake-build/CMakeCache.txt")
[ "$(realpath "$found_dir" 2>/dev/null)" = "$(realpath "$lib/cmake/fiberws")" ]; check $? "fiberws_DIR is the installed one ($found_dir)"
cmake --build "$tmp/cmake-build" >"$tmp/build.log" 2>&1; check $? "consumer project builds: $(tail -30 "$tmp/build.log")"
run cmake/consumer_shared "$tmp/cmake-build/consumer_shared" 1
if [ $static = 1 ]; then
    run cmake/consumer_static "$tmp/cmake-build/consumer_static" 0
    run cmake/consumer_static_cxx "$tmp/cmake-build/consumer_static_cxx" 0
fi

# 3. pkg-config and a plain compiler command line
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion fiberws)" = 0.1.0 ]; check $? "pkg-config --modversion fiberws"
[ "$(realpath "$(pkg-config --variable=pcfiledir fiberws)")" = "$(realpath "$lib/pkgconfig")" ]; check $? "pkg-config uses the installed fiberws.pc"
flags=$(pkg-config --cflags --libs fiberws); echo "--- pkg-config --cflags --libs fiberws: $flags"
# shellcheck disable=SC2086
"$cc" -Wall -Wextra -Werror -o "$tmp/pc_shared" "$src/consumer.c" $flags -Wl,-rpath,"$lib"; check $? "gcc with fiberws.pc"
run pkg-config/fiberws "$tmp/pc_shared" 1
echo "--- pkg-config --static --libs fiberws: $(pkg-config --static --libs fiberws)"
if [ $static = 1 ]; then
    flags=$(pkg-config --cflags --libs fiberws-static); echo "--- pkg-config --cflags --libs fiberws-static: $flags"
    # shellcheck disable=SC2086
    "$cc" -Wall -Wextra -Werror -o "$tmp/pc_static" "$src/consumer.c" $flags; check $? "gcc with fiberws-static.pc"
    run pkg-config/fiberws-static "$tmp/pc_static" 0
fi

echo "package consumer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
