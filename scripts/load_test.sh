#!/usr/bin/env bash
# A bounded load test of `denoise serve` on loopback: starts the server with the
# committed models, sends REQUESTS requests from CLIENTS concurrent clients
# (bench/serve_load.cpp: POST /api/predict with noise and the denoiser), and prints
# throughput, latency percentiles, errors, and the server's resident memory before,
# after a warm-up, and after the run (memory should stay flat).
# Usage: scripts/load_test.sh [REQUESTS=2000] [CLIENTS=16] [extra denoise serve flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-2000}
clients=${2:-16}
shift $(($# > 2 ? 2 : $#))
cmake --build build --target denoise serve_load >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
./build/denoise serve --denoiser models/seed-mnist-gaussian0.5 --classifier models/classifier-mnist-clean \
  --port "$port" --quiet "$@" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$server/status"; }
echo "server pid $server: $(head -1 "$log")"
echo "RSS at start:           $(rss)"
./build/bench/serve_load --port "$port" --clients "$clients" --requests 200 >/dev/null || true
echo "RSS after 200 warm-up:  $(rss)"
status=0
./build/bench/serve_load --port "$port" --clients "$clients" --requests "$requests" || status=$?
echo "RSS after the run:      $(rss)"
./build/bench/serve_load --port "$port" --clients "$clients" --requests "$requests" >/dev/null || true
echo "RSS after a second run: $(rss)"
kill -INT "$server"
wait "$server" || true
tail -1 "$log"
exit $status
