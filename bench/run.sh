#!/usr/bin/env bash
# Side-by-side WebSocket echo benchmark: fiberws (blocking handler API and event API) against gorilla/websocket (Go),
# Kestrel (ASP.NET Core) and Node `ws`, plus a bare single-threaded C epoll echo server (bench/peers/c-epoll, the
# ceiling of this harness, ping-pong scenarios only). Normally run through `./build.sh bench`, which builds fiberws
# first.
#
# Every server is pinned to one core (BENCH_SERVER_CPU, default 0) and the load generator (bench/loadgen.c, C + epoll,
# single-threaded) to another (BENCH_CLIENT_CPU, default 1). The script starts and stops each server itself, one per
# scenario, interleaving the servers within each scenario so that the ratios compare numbers measured minutes apart.
# Results: bench/RESULTS.md (tables + ratios), raw loadgen lines in build/bench/results.txt, logs in build/bench/logs.
#
# Environment:
#   BENCH_QUICK=1          2 s runs, one repetition (a smoke test; default: BENCH_DURATION s runs, median of 3)
#   BENCH_ONLY=a,b         servers: fiberws, fiberws-events, gorilla, kestrel, node, c-epoll (default: all)
#   BENCH_SCENARIOS=a,b    scenario ids or globs, e.g. 'pp64-*,idle10k' (default: all; see the list below)
#   BENCH_DURATION=4       seconds measured per run        BENCH_WARMUP=1   seconds of warm-up per run
#   BENCH_REPS=3           repetitions per cell (median by msgs/s)
#   BENCH_TEXT=1           text messages (servers validate UTF-8) instead of binary
#   BENCH_IDLE_CONNS=10000 connections for the idle scenario
#   BENCH_DEFLATE_IDLE_CONNS=1000  connections for deflate-idle1k
#   BENCH_BROADCAST_CONNS=10000    receivers for broadcast10k
#   BENCH_NOISY_CPU=0.15   a run during which other processes used more than this many cores is "noisy": it is repeated
#   BENCH_NOISY_RETRIES=2  (at most this many extra runs per cell) and the report takes the median of the quiet runs
#   BENCH_RESULTS=path     where to write the report (default bench/RESULTS.md)
#   BENCH_ECHOSERVER, BENCH_LIBDIR   the fiberws echo server and its library dir (default build/bin/echoserver, build/lib)
#
# Scenario ids: pp{1,64,1000}-{32,1k,64k} (ping-pong, N connections, message size), 1mib (1 MiB messages, 1
# connection), pipeline (64 connections x 16 in flight x 128 B), handshake (50 concurrent clients: open, one
# message, close), idle10k (server RSS per idle connection), deflate64-16k (64 connections ping-pong 16 KiB JSON-like
# text with permessage-deflate), deflate-idle1k (server RSS per idle connection that exchanged one compressed 2 KiB
# message), broadcast10k (10,000 receivers; one publisher connection on /publish, 128 B messages, each published
# to every receiver; msgs/s = messages delivered). c-epoll only runs the ping-pong scenarios (pp*, pipeline).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
out="$build/bench"
logs="$out/logs"
mkdir -p "$out" "$logs"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
    duration=${BENCH_DURATION:-2}; reps=${BENCH_REPS:-1}
else
    duration=${BENCH_DURATION:-4}; reps=${BENCH_REPS:-3}
fi
warmup=${BENCH_WARMUP:-1}
only=${BENCH_ONLY:-fiberws,fiberws-events,gorilla,kestrel,node,c-epoll}
scen_filter=${BENCH_SCENARIOS:-*}
idle_conns=${BENCH_IDLE_CONNS:-10000}
dfl_idle_conns=${BENCH_DEFLATE_IDLE_CONNS:-1000}
bcast_conns=${BENCH_BROADCAST_CONNS:-10000}
results_md=${BENCH_RESULTS:-$root/bench/RESULTS.md}
echoserver=${BENCH_ECHOSERVER:-$build/bin/echoserver}
libdir=${BENCH_LIBDIR:-$build/lib}
scpu=${BENCH_SERVER_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
binflag="--binary"
[ "${BENCH_TEXT:-0}" = 1 ] && binflag=""
raw="$out/results.txt"
noisy_cpu=${BENCH_NOISY_CPU:-0.15}
max_retries=${BENCH_NOISY_RETRIES:-2}
lg_timeout=$(awk -v d="$duration" -v w="$warmup" 'BEGIN{printf "%d", d + w + 90}')

log() { printf '== %s\n' "$*" >&2; }

# ------------------------------------------------------------------ cleanup: never leave a server behind
server_pid=""
lg_pid=""
cleanup() {
    local p
    for p in $lg_pid $server_pid; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in $lg_pid $server_pid; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    lg_pid=""
    server_pid=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# ------------------------------------------------------------------ limits and pinning
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ]; then ulimit -n "$hard"; else ulimit -n 1048576 2>/dev/null || true; fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((idle_conns + 100)) ]; then
    log "warning: ulimit -n is $(ulimit -n); idle10k needs $((idle_conns + 100)) descriptors per process"
fi
ncpu=$(nproc)
pin_server=(taskset -c "$scpu")
pin_client=(taskset -c "$ccpu")
if ! command -v taskset >/dev/null || [ "$ncpu" -lt 2 ]; then
    log "warning: cannot pin server and load generator to separate cores (nproc=$ncpu); running unpinned"
    pin_server=(); pin_client=()
fi

# ------------------------------------------------------------------ build the load generator and the peers
# the load generator needs zlib (permessage-deflate): Debian's zlib1g-dev (./build.sh bench installs it)
if ! echo '#include <zlib.h>' | gcc -E -x c - >/dev/null 2>&1; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        log "apt-get install zlib1g-dev (zlib.h for the load generator)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zlib1g-dev >&2 || true
    fi
    echo '#include <zlib.h>' | gcc -E -x c - >/dev/null 2>&1 ||
        { echo "bench/run.sh: zlib.h not found: install zlib1g-dev (apt-get install zlib1g-dev)" >&2; exit 1; }
fi
log "build loadgen"
gcc -O2 -Wall -Wextra -o "$out/loadgen" "$root/bench/loadgen.c" -lz

declare -A unavailable=()
want_server() { [[ ",$only," == *",$1,"* ]]; }

if want_server c-epoll; then
    log "build c-epoll peer"
    gcc -O2 -Wall -Wextra -o "$out/c-epoll-echo" "$root/bench/peers/c-epoll/echo.c" || unavailable[c-epoll]="build failed"
fi

if want_server gorilla; then
    if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/gorilla/websocket ]; then
        log "build gorilla peer"
        (cd "$root/bench/peers/gorilla" &&
            GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" GOFLAGS= go build -o "$out/gorilla-echo" .) ||
            unavailable[gorilla]="build failed"
    else
        unavailable[gorilla]="go or golang-github-gorilla-websocket-dev not installed"
    fi
fi
if want_server kestrel; then
    log "build kestrel peer"
    dotnet build "$root/bench/peers/kestrel/KestrelEcho.csproj" -c Release --nologo -v:q \
        --artifacts-path "$out/kestrel-artifacts" -o "$out/kestrel" >"$logs/kestrel-build.log" 2>&1 ||
        { cat "$logs/kestrel-build.log" >&2; unavailable[kestrel]="build failed"; }
fi
if want_server node; then
    if ! command -v node >/dev/null; then
        unavailable[node]="node not installed"
    elif [ ! -d "$build/node/node_modules/ws" ]; then
        log "npm install ws (Node peer)"
        mkdir -p "$build/node"
        (cd "$build/node" && { [ -f package.json ] || echo '{"name":"fiberws-interop","private":true}' > package.json; } &&
            npm install --no-audit --no-fund --silent ws@8) || unavailable[node]="npm install ws failed"
    fi
fi
if want_server fiberws || want_server fiberws-events; then
    [ -x "$echoserver" ] || { echo "missing $echoserver (run ./build.sh first)" >&2; exit 1; }
fi

# ------------------------------------------------------------------ servers
next_port=${BENCH_PORT:-18700}
pick_port() {
    local p=$next_port
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    next_port=$((p + 1))
    port=$p
}

# The servers' mode for the current scenario: "" (echo), compress (permessage-deflate) or broadcast (the /echo
# connections receive what /publish sends; the fiberws blocking API has no topics and exits with status 2: n/a).
srv_mode=""

# start_server NAME LOGFILE -> sets server_pid and port; returns 0 ok, 2 not available, 1 failed
start_server() {
    local name=$1 slog=$2
    pick_port
    local cmd flag=() gflag=()
    case $srv_mode in
        compress) flag=(--compress); gflag=(-compress) ;;
        broadcast) flag=(--broadcast); gflag=(-broadcast) ;;
    esac
    case $name in
        fiberws) cmd=(env LD_LIBRARY_PATH="$libdir" "$echoserver" "${flag[@]}" --addr "127.0.0.1:$port") ;;
        fiberws-events) cmd=(env LD_LIBRARY_PATH="$libdir" "$echoserver" --events "${flag[@]}" --addr "127.0.0.1:$port") ;;
        gorilla) cmd=(env GOMAXPROCS=1 "$out/gorilla-echo" "${gflag[@]}" -addr "127.0.0.1:$port") ;;
        kestrel) cmd=(env DOTNET_gcServer=0 DOTNET_PROCESSOR_COUNT=1 "$out/kestrel/kestrel-echo" "${flag[@]}" --urls "http://127.0.0.1:$port") ;;
        node) cmd=(env NODE_PATH="$build/node/node_modules" node "$root/bench/peers/node/echo.js" "${flag[@]}" --addr "127.0.0.1:$port") ;;
        c-epoll) cmd=("$out/c-epoll-echo" "${flag[@]}" --addr "127.0.0.1:$port") ;;
    esac
    : >"$slog"
    "${pin_server[@]}" "${cmd[@]}" >"$slog" 2>&1 &
    server_pid=$!
    local i
    for i in $(seq 300); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            local rc=0
            wait "$server_pid" || rc=$?
            server_pid=""
            [ "$rc" = 2 ] && return 2
            return 1
        fi
        if grep -q "listening on" "$slog" && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

stop_server() {
    [ -n "$server_pid" ] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# irq + softirq time (recorded as softirq_cpu). Softirq time that lands in a process's context is also charged to
# that process, so it normally cancels out of other_cpu; but with 10,000 sockets (broadcast10k) the kernel's TCP
# work largely runs while both processes sleep, is charged to no process and would look like noise: run_cell
# leaves it out of other_cpu when sirq_not_noise=1.
sirq_ticks() { awk '$1 == "cpu" {print $7 + $8}' /proc/stat; }
sirq_not_noise=0
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
clk_tck=$(getconf CLK_TCK)
now_s() { date +%s.%N; }

# ------------------------------------------------------------------ one cell
record() { echo "$*" >>"$raw"; }

# run_cell SCENARIO SERVER LOADGEN-ARGS...
run_cell() {
    local scen=$1 name=$2
    shift 2
    if [ -n "${unavailable[$name]:-}" ]; then
        record "scenario=$scen server=$name rep=0 status=na note=${unavailable[$name]}"
        return
    fi
    local slog="$logs/$scen.$name.server.log" rc=0
    start_server "$name" "$slog" || rc=$?
    if [ $rc = 2 ]; then
        if [ -n "$srv_mode" ]; then
            # this mode only (e.g. --broadcast on the blocking API)
            record "scenario=$scen server=$name rep=0 status=na note=no $srv_mode mode"
            log "$name: no $srv_mode mode (exit status 2)"
            return
        fi
        unavailable[$name]="not available"
        record "scenario=$scen server=$name rep=0 status=na note=not available"
        log "$name: not available (exit status 2)"
        return
    elif [ $rc != 0 ]; then
        stop_server
        record "scenario=$scen server=$name rep=0 status=fail note=server did not start: $(tail -n 2 "$slog" | tr '\n' ' ')"
        log "$name: server did not start"
        return
    fi
    local r=0 runs=$reps retries=0
    while [ $r -lt $runs ]; do
        r=$((r + 1))
        local lgout="$logs/$scen.$name.$r.out" t0 c0 t1 c1 b0 b1 q0 q1
        t0=$(now_s); c0=$(cpu_ticks "$server_pid"); b0=$(busy_ticks); q0=$(sirq_ticks)
        rc=0
        # in the background + wait, so that a signal interrupts the wait and the trap stops everything at once
        timeout -k 5 "$lg_timeout" "${pin_client[@]}" "$out/loadgen" --port "$port" \
            --duration "$duration" --warmup "$warmup" "$@" >"$lgout" 2>&1 &
        lg_pid=$!
        wait "$lg_pid" || rc=$?
        lg_pid=""
        t1=$(now_s); c1=$(cpu_ticks "$server_pid"); b1=$(busy_ticks); q1=$(sirq_ticks)
        local res srv_cpu other lgs
        res=$(grep '^RESULT' "$lgout" | tail -n 1 | sed 's/^RESULT //')
        srv_cpu=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" 'BEGIN{printf "%.2f", (b - a) / hz / (t1 - t0)}')
        # CPU used by everything else on the machine during the run (other processes, VM steal): a noise indicator
        lgs=$(sed -n 's/.*lg_cpu_s=\([0-9.]*\).*/\1/p' <<<"$res")
        other=$(awk -v a="$c0" -v b="$c1" -v x="$b0" -v y="$b1" -v l="${lgs:-0}" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" \
            -v q="$((sirq_not_noise ? q1 - q0 : 0))" \
            'BEGIN{o = ((y - x) - (b - a) - l * hz - q) / hz / (t1 - t0); if (o < 0) o = 0; printf "%.2f", o}')
        srv_cpu="$srv_cpu other_cpu=$other softirq_cpu=$(awk -v a="$q0" -v b="$q1" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" \
            'BEGIN{printf "%.2f", (b - a) / hz / (t1 - t0)}')"
        if ! kill -0 "$server_pid" 2>/dev/null; then
            record "scenario=$scen server=$name rep=$((rep_base + r)) status=fail $res note=server exited during the run: $(tail -n 3 "$slog" | tr '\n' ' ')"
            log "$scen $name: server exited"
            server_pid=""
            return
        fi
        if [ $rc != 0 ]; then
            local why
            why=$(grep -v '^RESULT' "$lgout" | head -n 2 | tr '\n' ' ')
            record "scenario=$scen server=$name rep=$((rep_base + r)) status=fail $res srv_cpu=$srv_cpu note=loadgen exit $rc: $why"
            log "$scen $name rep $r: FAILED ($why)"
            break
        fi
        record "scenario=$scen server=$name rep=$((rep_base + r)) status=ok $res srv_cpu=$srv_cpu peak_rss_kb=$(status_kb "$server_pid" VmHWM)"
        log "$scen $name rep $((rep_base + r)): $res srv_cpu=$srv_cpu"
        # a run during which other processes used the CPUs is repeated (the report prefers quiet runs)
        if awk -v o="$other" -v m="$noisy_cpu" 'BEGIN{exit !(o > m)}' && [ $retries -lt "$max_retries" ]; then
            retries=$((retries + 1))
            runs=$((runs + 1))
            log "$scen $name rep $r was noisy (other processes used $other cores): one more run"
        fi
    done
    stop_server
}

# idle: server RSS per connection for N idle connections
# run_idle SCENARIO SERVER CONNS LOADGEN-ARGS... (message size and kind; used for the warm-up and the connections)
run_idle() {
    local scen=$1 name=$2 nconns=$3
    shift 3
    if [ -n "${unavailable[$name]:-}" ]; then
        record "scenario=$scen server=$name rep=0 status=na note=${unavailable[$name]}"
        return
    fi
    local slog="$logs/$scen.$name.server.log" rc=0
    start_server "$name" "$slog" || rc=$?
    if [ $rc = 2 ]; then
        if [ -n "$srv_mode" ]; then
            record "scenario=$scen server=$name rep=0 status=na note=no $srv_mode mode"
            return
        fi
        unavailable[$name]="not available"
        record "scenario=$scen server=$name rep=0 status=na note=not available"
        return
    elif [ $rc != 0 ]; then
        stop_server
        record "scenario=$scen server=$name rep=0 status=fail note=server did not start"
        return
    fi
    # touch the echo path once so lazy initialization (JIT, pools) is not charged to the connections
    "${pin_client[@]}" "$out/loadgen" --port "$port" --conns 4 --duration 0.5 --warmup 0.2 "$@" \
        >"$logs/$scen.$name.warm.out" 2>&1 || true
    sleep 1
    local rss0 rss1 thr lgout="$logs/$scen.$name.out"
    rss0=$(status_kb "$server_pid" VmRSS)
    : >"$lgout"
    "${pin_client[@]}" "$out/loadgen" --port "$port" --mode idle --conns "$nconns" --duration 4 \
        --connect-timeout 60 "$@" >"$lgout" 2>&1 &
    lg_pid=$!
    local i ready=0
    for i in $(seq 700); do
        grep -q '^READY' "$lgout" && { ready=1; break; }
        kill -0 "$lg_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ $ready = 1 ] && sleep 1.5
    rss1=$(status_kb "$server_pid" VmRSS)
    thr=$(status_kb "$server_pid" Threads)
    rc=0
    wait "$lg_pid" || rc=$?
    lg_pid=""
    local res
    res=$(grep '^RESULT' "$lgout" | tail -n 1 | sed 's/^RESULT //')
    if ! kill -0 "$server_pid" 2>/dev/null; then
        record "scenario=$scen server=$name rep=1 status=fail $res note=server exited: $(tail -n 3 "$slog" | tr '\n' ' ')"
        server_pid=""
        return
    fi
    if [ $ready != 1 ] || [ $rc != 0 ]; then
        record "scenario=$scen server=$name rep=1 status=fail $res note=loadgen exit $rc: $(grep -v -e '^RESULT' -e '^READY' "$lgout" | head -n 2 | tr '\n' ' ')"
        log "$scen $name: FAILED"
    else
        local per
        per=$(awk -v a="$rss0" -v b="$rss1" -v n="$nconns" 'BEGIN{printf "%.2f", (b - a) / n}')
        record "scenario=$scen server=$name rep=1 status=ok $res rss0_kb=$rss0 rss1_kb=$rss1 kb_per_conn=$per threads=$thr"
        log "$scen $name: rss ${rss0} kB -> ${rss1} kB, ${per} kB/conn, threads=$thr"
    fi
    stop_server
}

# broadcast: $bcast_conns receivers on /echo verify every message (8-byte LE seq, then (seq + i) & 0xff) and one
# publisher connection on /publish keeps up to 16 publishes of 128 B outstanding (as fast as the server delivers);
# msgs/s = messages delivered to the receivers per second.
run_broadcast() {
    local scen=$1 name=$2
    sirq_not_noise=1
    run_cell "$scen" "$name" --mode receive --conns "$bcast_conns" --size 128 --binary --publish-path /publish \
        --publish-size 128 --publish-window 16 --connect-timeout 60
    sirq_not_noise=0
}

# ------------------------------------------------------------------ scenarios
scen_wanted() {
    local id=$1 pat
    IFS=, read -ra pats <<<"$scen_filter"
    for pat in "${pats[@]}"; do
        # shellcheck disable=SC2053
        [[ $id == $pat ]] && return 0
    done
    return 1
}

scenarios=()
for c in 1 64 1000; do
    for s in 32 1k 64k; do scenarios+=("pp$c-$s"); done
    [ "$c" = 64 ] && scenarios+=("pp64-16k") # the issue's 64 x 16 KiB target row
done
scenarios+=(1mib pipeline handshake idle10k deflate64-16k deflate-idle1k broadcast10k)

servers=()
for s in fiberws fiberws-events gorilla kestrel node c-epoll; do want_server "$s" && servers+=("$s"); done

: >"$raw"
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "quick=$quick duration=$duration warmup=$warmup reps=$reps binary=$([ -n "$binflag" ] && echo 1 || echo 0) pinned=$([ ${#pin_server[@]} -gt 0 ] && echo "server:cpu$scpu,loadgen:cpu$ccpu" || echo no)"
    echo "go=$(go version 2>/dev/null | awk '{print $3}')"
    echo "gorilla=$(dpkg-query -W -f='${Version}' golang-github-gorilla-websocket-dev 2>/dev/null || true)"
    echo "dotnet=$(dotnet --list-runtimes 2>/dev/null | awk '/AspNetCore/{v=$2} END{print v}')"
    echo "node=$(node --version 2>/dev/null || true)"
    echo "ws=$(node -p "require('$build/node/node_modules/ws/package.json').version" 2>/dev/null || true)"
    echo "zlib=$(dpkg-query -W -f='${Version}' zlib1g 2>/dev/null || true)"
    echo "fiberws=$(git -C "$root" describe --always --dirty 2>/dev/null || true)"
} >"$out/meta.txt"

# One scenario on one server.
run_one() {
    local scen=$1 name=$2 c s bytes
    # the bare C server only does ping-pong echo
    [ "$name" = c-epoll ] && [[ $scen != pp* && $scen != pipeline ]] && return
    srv_mode=""
    case $scen in
            pp*)
                c=${scen#pp}; c=${c%-*}; s=${scen#*-}
                case $s in 32) bytes=32 ;; 1k) bytes=1024 ;; 16k) bytes=16384 ;; 64k) bytes=65536 ;; esac
                run_cell "$scen" "$name" --conns "$c" --size "$bytes" --inflight 1 $binflag ;;
            1mib) run_cell "$scen" "$name" --conns 1 --size 1048576 --inflight 1 $binflag ;;
            pipeline) run_cell "$scen" "$name" --conns 64 --size 128 --inflight 16 $binflag ;;
            handshake) run_cell "$scen" "$name" --mode handshake --conns 50 --size 32 $binflag ;;
            idle10k) run_idle "$scen" "$name" "$idle_conns" --size 32 $binflag ;;
            deflate64-16k)
                srv_mode=compress
                run_cell "$scen" "$name" --conns 64 --size 16384 --inflight 1 --json --deflate ;;
            deflate-idle1k)
                srv_mode=compress
                run_idle "$scen" "$name" "$dfl_idle_conns" --size 2048 --json --deflate --idle-echo ;;
            broadcast10k)
                srv_mode=broadcast
                run_broadcast "$scen" "$name" ;;
        esac
        srv_mode=
}

# Throughput scenarios interleave the servers: repetition 1 of every server, then repetition 2 of every server...
# (each on a fresh server process), so that a slow spell of the machine (this VM's speed drifts by tens of percent
# over minutes) falls on all servers alike instead of on the one that happened to run then.
rep_base=0
t_start=$(date +%s)
for scen in "${scenarios[@]}"; do
    scen_wanted "$scen" || continue
    passes=1
    case $scen in idle10k|deflate-idle1k|broadcast10k) ;; *) passes=$reps ;; esac
    saved_reps=$reps
    [ "$passes" -gt 1 ] && reps=1
    for ((pass = 1; pass <= passes; pass++)); do
        rep_base=$((pass - 1))
        for name in "${servers[@]}"; do
            run_one "$scen" "$name"
        done
    done
    reps=$saved_reps
    rep_base=0
done
log "benchmark took $(($(date +%s) - t_start)) s"

python3 "$root/bench/report.py" "$raw" "$out/meta.txt" "$results_md" "$idle_conns"
log "wrote $results_md"
