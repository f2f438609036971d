#!/usr/bin/env bash
# wss:// end to end: makes a self-signed certificate with openssl, serves it with build/bin/echoserver --tls-cert
# --tls-key on both APIs (with permessage-deflate), and drives it with Python websockets (tls_client.py) and Node
# ws. Also checks that a key that does not match the certificate is refused with a clear message.
# Usage: run_tls.sh ECHOSERVER NODE_MODULES_DIR
set -euo pipefail
echoserver=$1
node_modules=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v openssl >/dev/null || { echo "FAIL: openssl is not installed"; exit 1; }
[ -d "$node_modules/ws" ] || { echo "FAIL: Node 'ws' is not installed in $node_modules"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$work/other.pem" 2>/dev/null

# A mismatched key is refused at start, with OpenSSL's reason.
if "$echoserver" --addr 127.0.0.1:0 --tls-cert "$work/cert.pem" --tls-key "$work/other.pem" >"$work/out" 2>&1; then
    echo "FAIL: echoserver started with a key that does not match the certificate"; exit 1
fi
grep -q "does not match" "$work/out" || { echo "FAIL: unclear error for a mismatched key:"; cat "$work/out"; exit 1; }
if "$echoserver" --addr 127.0.0.1:0 --tls-cert "$work/missing.pem" --tls-key "$work/key.pem" >"$work/out" 2>&1; then
    echo "FAIL: echoserver started without a certificate file"; exit 1
fi
grep -q "not found" "$work/out" || { echo "FAIL: unclear error for a missing certificate:"; cat "$work/out"; exit 1; }
echo "ok: bad certificate/key files are refused with a clear message"

for api in "" "--events"; do
    "$echoserver" --addr 127.0.0.1:0 --compress $api --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" >"$work/out" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do grep -q "listening on" "$work/out" && break; sleep 0.1; done
    port=$(awk '/listening on/ {print $3}' "$work/out")
    [ -n "$port" ] || { echo "FAIL: echoserver did not start"; cat "$work/out"; exit 1; }
    echo "== wss echoserver ${api:-(blocking)} on port $port"
    /usr/bin/python3 "$here/tls_client.py" "$port" "$work/cert.pem" --deflate
    /usr/bin/python3 "$here/tls_client.py" "$port" "$work/cert.pem"
    NODE_EXTRA_CA_CERTS="$work/cert.pem" node "$here/../interop/node_client.cjs" "wss://localhost:$port/echo" "$node_modules" deflate
    kill -0 $pid || { echo "FAIL: echoserver died"; cat "$work/out"; exit 1; }
    kill $pid; wait $pid 2>/dev/null || true
done
echo "run_tls: all passed"
