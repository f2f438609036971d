#!/usr/bin/env bash
# Runs the seed example (build/bin/echo) on a free loopback port, drives it with real third-party clients
# (Node's ws, Python's websockets), and checks that the example printed the seed's values.
# Usage: run_example_interop.sh ECHO_BINARY NODE_MODULES_DIR
set -euo pipefail
echo_bin=$1
node_modules=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$node_modules/ws" ] || { echo "FAIL: Node 'ws' is not installed in $node_modules (./build.sh test installs it)"; exit 1; }
/usr/bin/python3 -c "import websockets" || { echo "FAIL: python3-websockets is not installed"; exit 1; }

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp)
"$echo_bin" "127.0.0.1:$port" >"$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do
    grep -q "listening on" "$out" && /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
    sleep 0.1
done

url="ws://127.0.0.1:$port/ws/123?v=1.0"
node "$here/node_client.cjs" "$url" "$node_modules"
/usr/bin/python3 "$here/python_client.py" "$url"

# The seed's log lines: Locals("allowed") true, Params("id") 123, Query("v") 1.0, Cookies("session") "".
sleep 0.3
fail=0
for want in " true$" " 123$" " 1.0$" "recv: hello from node" "recv: hello from python"; do
    if ! grep -qE "$want" "$out"; then
        echo "FAIL: the example did not log /$want/"; fail=1
    fi
done
if [ $fail -ne 0 ]; then
    echo "--- example output ---"; head -50 "$out"
    echo "example log: 0 passed, 1 failed"; exit 1
fi
echo "example log: 5 passed, 0 failed"
