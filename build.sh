#!/usr/bin/env bash
# fiberws build driver.
#   ./build.sh            build the library (build/lib), the header, the examples (build/bin) and the C tests
#   ./build.sh example    build, then run the seed example: build/bin/echo [ADDR] (default :3000)
#   ./build.sh example-python   build, then run bindings/python/examples/echo.py [ADDR] with the built library
#   ./build.sh test       install what the tests need, build, run every test through CTest
#   ./build.sh regen      regenerate the committed include/fiberws.h and bindings/python/fiberws/_ffi.py
#   ./build.sh soak       build, then run only the soak test (5,000 connections x 60 s per API, ~3 min; issue 7)
#   ./build.sh bench      build, then benchmark fiberws against gorilla, Kestrel and Node ws (bench/run.sh; writes
#                         bench/RESULTS.md; ~15 min; BENCH_QUICK=1 for a 3-minute smoke run, BENCH_ONLY=, BENCH_SCENARIOS=)
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
build="$root/build"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '\n== %s\n' "$*"; }

apt_install() {
    # Installs the Debian packages that are missing (root on CI and dev machines; sudo elsewhere).
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

need_build_tools() {
    command -v dotnet >/dev/null || { echo "dotnet (the .NET 10 SDK) is required" >&2; exit 1; }
    apt_install cmake ninja-build gcc g++ pkg-config
}

configure_and_build() {
    need_build_tools
    log "configure + build (build/)"
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build"
}

cmd=${1:-build}
case "$cmd" in
    build)
        configure_and_build
        ;;
    example)
        configure_and_build
        shift || true
        log "running build/bin/echo ${*:-:3000}   (try ws://localhost:3000/ws/123?v=1.0; Ctrl-C stops it)"
        exec "$build/bin/echo" "$@"
        ;;
    example-python)
        configure_and_build
        apt_install python3
        shift || true
        log "running bindings/python/examples/echo.py ${*:-:3000}   (ws://localhost:3000/ws/123?v=1.0; Ctrl-C stops it)"
        FIBERWS_LIBRARY="$build/lib/libfiberws.so" PYTHONPATH="$root/bindings/python" \
            exec /usr/bin/python3 "$root/bindings/python/examples/echo.py" "$@"
        ;;
    test)
        apt_install python3 python3-websockets python3-clang-14 chromium zlib1g-dev \
            python3-pytest python3-pip python3-setuptools python3-wheel binutils openssl libssl3
        apt_install valgrind   # memcheck_* tests (native-tests/memcheck)
        # Node may come from outside Debian (with its own npm): install Debian's only when missing.
        command -v node >/dev/null || apt_install nodejs
        command -v npm >/dev/null || apt_install npm
        configure_and_build
        if [ ! -d "$build/node/node_modules/ws" ]; then
            log "npm install ws (Node client for interop tests)"
            mkdir -p "$build/node"
            (cd "$build/node" && { [ -f package.json ] || echo '{"name":"fiberws-interop","private":true}' > package.json; } &&
                npm install --no-audit --no-fund --silent ws@8)
        fi
        log "ctest"
        cd "$build"
        ctest --output-on-failure --timeout 600 "${@:2}"
        ;;
    soak)
        apt_install python3 zlib1g-dev
        configure_and_build
        cd "$build"
        exec ctest --output-on-failure -R '^soak$' "${@:2}"
        ;;
    bench)
        configure_and_build
        apt_install golang-go golang-github-gorilla-websocket-dev python3 zlib1g-dev
        command -v node >/dev/null || apt_install nodejs
        command -v npm >/dev/null || apt_install npm
        exec "$root/bench/run.sh"
        ;;
    regen)
        configure_and_build
        cp "$build/generated/include/fiberws.h" include/fiberws.h
        mkdir -p bindings/python/fiberws
        cp "$build/generated/python/_ffi.py" bindings/python/fiberws/_ffi.py
        log "regenerated include/fiberws.h and bindings/python/fiberws/_ffi.py"
        ;;
    *)
        echo "usage: ./build.sh [build|example [ADDR]|example-python [ADDR]|test [ctest args]|soak|bench|regen]" >&2
        exit 2
        ;;
esac
