#!/usr/bin/env bash
# The stroke-storm benchmark (examples/storm.rs) against a fresh server:
#
#   scripts/storm.sh one [storm flags]   one instance, embedded store
#   scripts/storm.sh two [storm flags]   two instances over Redis and a
#                                        MongoDB-protocol server, behind nginx
#                                        (docs/deploy/nginx.conf)
#   scripts/storm.sh two-direct [flags]  the same, users connecting to the two
#                                        instances directly (no nginx)
#   scripts/storm.sh relay [flags]       a raw relay (examples/relay.rs): the
#                                        floor this machine and generator allow
#   scripts/storm.sh relay-nginx [flags] the raw relay behind the same nginx
#                                        (both upstreams are the relay): the
#                                        floor for the `two` rows
#
# e.g. scripts/storm.sh two --boards 1 --users 100 --seconds 10
#
# Builds nothing: run `cargo build --release --features ssr --bin whiteboard
# --example storm --example relay` first (or point WHITEBOARD_BIN / STORM_BIN /
# RELAY_BIN elsewhere, to compare builds). Everything listens on loopback ports it picks and is
# stopped at the end; the generator's window is fixed, so the run ends by
# itself. Figures go to docs/benchmarks.md with the command that made them.
# STORM_SERVER_LOG sets the instances' log filter (default `warn`), and
# STORM_LOGS=dir keeps every process's log there.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

mode="${1:-}"
shift || true
WHITEBOARD_BIN="${WHITEBOARD_BIN:-$ROOT/target/release/whiteboard}"
STORM_BIN="${STORM_BIN:-$ROOT/target/release/examples/storm}"
RELAY_BIN="${RELAY_BIN:-$ROOT/target/release/examples/relay}"
[[ "$mode" = relay* ]] && WHITEBOARD_BIN="$RELAY_BIN"
for binary in "$WHITEBOARD_BIN" "$STORM_BIN"; do
  [ -x "$binary" ] || { echo "missing $binary: build it first (see the top of this script)" >&2; exit 1; }
done
ensure_apt curl
# Ten thousand sockets on each side need more than the default 1,024.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  if [ -n "${STORM_LOGS:-}" ]; then mkdir -p "$STORM_LOGS" && cp "$WORK"/*.log "$STORM_LOGS"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# What the instances counted: drops, lags and batches (GET /metrics).
report_metrics() {
  for addr in "$@"; do
    echo "metrics of $addr:"
    curl -fsS "http://$addr/metrics" | grep -E '^whiteboard_(clients_dropped_total|bus_publish_dropped_frames_total|bus_lagged_frames_total|bus_gap_fills_total|bus_publish_batch_frames_(sum|count)|store_append_batch_ops_(sum|count)|store_append_seconds_(sum|count)|store_append_conflicts_total) ' | sed 's/^/  /'
  done
}

# Starts the server with extra environment; prints its pid and sets $ADDR.
start_instance() {
  local name="$1"
  shift
  local port
  port="$(free_port)"
  # Every generated client comes from this one address, and a generator
  # sends at full speed: lift the per-address and per-connection budgets
  # (a benchmark measures the server, not the budgets).
  env WHITEBOARD_CONNECTIONS_PER_ADDRESS=1000000 WHITEBOARD_EPHEMERAL_PER_SEC=1000000 \
    WHITEBOARD_EPHEMERAL_BYTES_PER_SEC=1000000000 WHITEBOARD_DURABLE_PER_SEC=1000000 \
    "$@" "$WHITEBOARD_BIN" --addr "127.0.0.1:$port" --data-dir "$WORK/$name" --log "${STORM_SERVER_LOG:-warn}" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_for_port "$port" "$name"
  ADDR="127.0.0.1:$port"
}

# Starts nginx with the shipped config in front of two upstream addresses and
# runs the generator through it (nginx's workers count as server processes).
storm_through_nginx() {
  local first="$1" second="$2"
  shift 2
  local lb_port nginx_pids
  lb_port="$(free_port)"
  start_nginx "$WORK" "$lb_port" "$first" "$second"
  nginx_pids=("$(cat "$WORK/nginx.pid")")
  mapfile -t -O 1 nginx_pids < <(pgrep -P "${nginx_pids[0]}")
  "$STORM_BIN" --addr "127.0.0.1:$lb_port" \
    $(printf -- '--server-pid %s ' "${PIDS[@]}" "${nginx_pids[@]}") "$@"
}

case "$mode" in
  one)
    start_instance single
    "$STORM_BIN" --addr "$ADDR" --server-pid "${PIDS[0]}" "$@"
    report_metrics "$ADDR"
    ;;
  two | two-direct)
    ensure_apt redis-server nginx python3-venv
    ensure_test_services
    redis_port="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize no >"$WORK/redis.log" 2>&1 &
    PIDS+=($!)
    mongo_port="$(free_port)"
    "$SECANTUS_VENV/bin/secantusd-py" --host 127.0.0.1 --port "$mongo_port" \
      --storage-path "$WORK/mongo" --cache-size 256M --log-level WARNING --sync-on-commit \
      >"$WORK/mongo.log" 2>&1 &
    PIDS+=($!)
    wait_for_port "$redis_port" redis-server
    wait_for_port "$mongo_port" SecantusDB
    services=(REDIS_URL="redis://127.0.0.1:$redis_port"
      MONGODB_URI="mongodb://127.0.0.1:$mongo_port/?directConnection=true")
    start_instance a "${services[@]}"
    addr_a="$ADDR"
    start_instance b "${services[@]}"
    addr_b="$ADDR"
    if [ "$mode" = two-direct ]; then
      "$STORM_BIN" --addr "$addr_a" --addr "$addr_b" $(printf -- '--server-pid %s ' "${PIDS[@]}") "$@"
      report_metrics "$addr_a" "$addr_b"
      exit
    fi
    storm_through_nginx "$addr_a" "$addr_b" "$@"
    report_metrics "$addr_a" "$addr_b"
    ;;
  relay | relay-nginx)
    port="$(free_port)"
    "$RELAY_BIN" --addr "127.0.0.1:$port" >"$WORK/relay.log" 2>&1 &
    PIDS+=($!)
    wait_for_port "$port" relay
    if [ "$mode" = relay ]; then
      "$STORM_BIN" --addr "127.0.0.1:$port" --server-pid "${PIDS[0]}" "$@"
      exit
    fi
    ensure_apt nginx
    storm_through_nginx "127.0.0.1:$port" "127.0.0.1:$port" "$@"
    ;;
  *)
    echo "usage: scripts/storm.sh one|two|two-direct|relay|relay-nginx [storm flags]" >&2
    exit 2
    ;;
esac
