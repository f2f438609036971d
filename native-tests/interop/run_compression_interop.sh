#!/usr/bin/env bash
# permessage-deflate against real clients: Python websockets (its default offer) and Node ws (perMessageDeflate,
# server_max_window_bits=12), on the blocking and on the event API of build/bin/echoserver --compress.
# Usage: run_compression_interop.sh ECHOSERVER NODE_MODULES_DIR
set -euo pipefail
echoserver=$1
node_modules=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$node_modules/ws" ] || { echo "FAIL: Node 'ws' is not installed in $node_modules"; exit 1; }
for api in "" "--events"; do
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$echoserver" --addr "127.0.0.1:$port" --compress $api >/dev/null 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do
        /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
        sleep 0.1
    done
    echo "== echoserver --compress ${api:-(blocking)}"
    /usr/bin/python3 "$here/python_client.py" "ws://127.0.0.1:$port/echo" --deflate
    node "$here/node_client.cjs" "ws://127.0.0.1:$port/echo" "$node_modules" deflate
    kill $pid; wait $pid 2>/dev/null || true
    trap - EXIT
done
