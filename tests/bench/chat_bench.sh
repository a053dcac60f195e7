#!/usr/bin/env bash
# The chat server under load: starts `supportbot serve` on a fresh database
# (persistence on: acks after COMMIT, synchronous=full), with the sample rules
# and KB, then drives it with loadgen. Figures: docs/performance.md.
#
# usage: tests/bench/chat_bench.sh closed [CONNECTIONS] [SECONDS]
#        tests/bench/chat_bench.sh rate RATE [CONNECTIONS] [SECONDS]
#        tests/bench/chat_bench.sh idle [CONNECTIONS]
#
#   closed  closed loop: each connection sends its next message when the
#           previous one is answered (throughput at saturation)
#   rate    open loop at RATE messages/s in total (latency at that load)
#   idle    CONNECTIONS idle visitors (hello, then nothing): the server's
#           resident memory per connection
#
# After a closed or rate run it prints what the server wrote to disk (the
# `server disk` line: /proc/PID/io write_bytes; for supportbot also its
# commits and store writes from /metrics).
#
# FLOOR=transport|store|sqlite-log|sqlite-log-index runs the same load
# against ws_floor (tests/bench/ws_floor.cpp) instead, which routes nothing:
# the transport alone; with the real store; with the least a SQLite store
# can write (one unindexed table), or that and a (conversation, seq) index.
# Closed and rate only.
#
# Needs a Release build with the benchmarks (make build). Limits are raised
# through the config, never in code: connections_per_ip (one client
# address), visitor_messages_per_10s (a benchmark visitor is fast).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SUPPORTBOT:-$root/build/supportbot}
loadgen=${LOADGEN:-$root/build/tests/bench/loadgen}
mode=${1:-closed}
shift || true

work=$(mktemp -d /tmp/sb-chat-bench.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/supportbot.yaml" <<EOF
port: 0
data_dir: var
intents_dir: $root/intents
kb_dir: $root/knowledge_base
web_dir: $root/bot/web
limits:
  connections_per_ip: 20000
  max_connections: 20000
  visitor_messages_per_10s: 1000000
EOF

case "${FLOOR:-}" in
  "") "$bin" serve --config "$work/supportbot.yaml" 2> "$work/server.log" & ;;
  transport) "$root/build/tests/bench/ws_floor" 2> "$work/server.log" & ;;
  store) "$root/build/tests/bench/ws_floor" --store "$work/floor.db" 2> "$work/server.log" & ;;
  sqlite-log) "$root/build/tests/bench/ws_floor" --sqlite-log "$work/floor.db" 2> "$work/server.log" & ;;
  sqlite-log-index)
    "$root/build/tests/bench/ws_floor" --sqlite-log "$work/floor.db" --index 2> "$work/server.log" & ;;
  *) echo "chat_bench.sh: FLOOR must be transport, store, sqlite-log or sqlite-log-index" >&2; exit 2 ;;
esac
server_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(grep -o '"event":"listening".*"port":[0-9]*' "$work/server.log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "chat_bench.sh: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
url=ws://127.0.0.1:$port/ws
messages=$root/tests/bench/messages.txt

# Bytes the server had the kernel write to disk (WAL, checkpoints), and, for
# supportbot, its commits and turns (from /metrics), after a closed or rate run.
written() { awk '/^write_bytes/ {print $2}' "/proc/$server_pid/io"; }
report_writes() {
  local bytes=$(( $(written) - $1 ))
  if [ -z "${FLOOR:-}" ]; then
    local m
    m=$(curl -s "http://127.0.0.1:$port/metrics")
    local batches turns
    batches=$(awk '/^supportbot_store_batches_total / {print $2}' <<< "$m")
    turns=$(awk '/^supportbot_store_batch_size_sum / {printf "%d", $2}' <<< "$m")
    echo "server disk   $bytes bytes written, $batches commits of $turns writes:" \
         "$(( bytes / (turns > 0 ? turns : 1) )) bytes per write"
  else
    echo "server disk   $bytes bytes written"
  fi
}

case "$mode" in
  closed)
    before=$(written)
    "$loadgen" --url "$url" --connections "${1:-1000}" --duration "${2:-30}" --messages "$messages"
    report_writes "$before"
    ;;
  rate)
    [ $# -ge 1 ] || { echo "usage: chat_bench.sh rate RATE [CONNECTIONS] [SECONDS]" >&2; exit 2; }
    before=$(written)
    "$loadgen" --url "$url" --rate "$1" --connections "${2:-1000}" --duration "${3:-30}" --messages "$messages"
    report_writes "$before"
    ;;
  idle)
    n=${1:-10000}
    before=$(rss_kb)
    # Ramp over 12 s, then hold; RSS is read while all are open.
    "$loadgen" --url "$url" --idle --connections "$n" --duration 30 --ramp 12 > "$work/idle.txt" 2>&1 &
    lg=$!
    sleep 25
    open=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^supportbot_ws_connections_open / {print $2}')
    after=$(rss_kb)
    wait "$lg" || true
    cat "$work/idle.txt"
    echo "server RSS: ${before} kB before, ${after} kB with ${open} idle connections:" \
         "$(( (after - before) * 1024 / (open > 0 ? open : 1) )) bytes per connection"
    ;;
  *)
    echo "usage: chat_bench.sh closed|rate|idle ..." >&2
    exit 2
    ;;
esac
