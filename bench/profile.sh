#!/usr/bin/env bash
# Where the time goes, for BENCHMARKS.md: `perf record` of (1) the engine's batch-1 forward
# (fuserank-bench, 200 events, 1 thread) and (2) fuserank-server --workers 1 under 16 closed-loop
# clients (pinned as in make bench); prints the top symbols and the share of each thread. Bounded
# (a few thousand iterations, SECONDS_LOAD of load); loopback only. Needs perf (linux-perf) and a
# release build; run after `make bench` (which installs the peers into .venv).
set -eu  # no pipefail: `head` cuts perf report short on purpose
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
MODEL=${MODEL:-models/default}
SECONDS_LOAD=${SECONDS_LOAD:-6}
BIN_DIR="$(swift build -c release --show-bin-path)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
top() { perf report -i "$1" --no-children --sort symbol -g none --stdio 2>/dev/null | grep -v '^#' | grep '%' \
        | head -"${2:-15}" | sed 's/ \+$//' | swift demangle --simplified | cut -c1-120; }

echo "== engine forward, batch 1, 200 events (perf record)"
perf record -q -o "$WORK/engine.data" -F 2000 -- "$BIN_DIR/fuserank-bench" --model "$MODEL" --batch 1 \
    --events 200 --threads 1 --iters 3000 --warmup 10
top "$WORK/engine.data"

echo "== fuserank-server --workers 1, 16 clients (perf record -p for $((SECONDS_LOAD - 2)) s)"
LAST=$(( $(nproc) - 1 ))
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
taskset -c "$LAST" "$BIN_DIR/fuserank-server" --bind "tcp://127.0.0.1:$PORT" --model "$MODEL" --workers 1 \
    --log-level warning > /dev/null &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 3
"$PY" bench/server_bench.py --endpoint "tcp://127.0.0.1:$PORT" --model "$MODEL" --clients 16 \
    --seconds "$SECONDS_LOAD" --warmup 1 &
LOADGEN=$!
sleep 2
perf record -q -o "$WORK/server.data" -F 2000 -p "$SERVER" -- sleep $((SECONDS_LOAD - 2))
wait "$LOADGEN"
kill -TERM "$SERVER"; wait "$SERVER" || true
echo "-- by thread (the worker is the one in libopenblas)"
perf report -i "$WORK/server.data" --no-children -s pid,dso -g none --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -12
echo "-- top symbols"
top "$WORK/server.data" 25
