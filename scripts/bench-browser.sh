#!/usr/bin/env bash
# The browser benchmarks (end2end/bench/*.bench.ts) in Debian's Chromium
# against a fresh release server: big-board (boards of 1k to 100k strokes),
# images (the memory a board of large images holds) and stroke-cost (what
# one stroke costs the canvas, without the app).
#
#   scripts/bench-browser.sh                          all of them, all sizes
#   BENCH_SIZES=100000 scripts/bench-browser.sh       one size
#   scripts/bench-browser.sh stroke-cost              one file (Playwright's filter)
#   MONGODB_URI=mongodb://... scripts/bench-browser.sh  the server on MongoDB
#
# The server as if it were far away: BENCH_LATENCY_MS=25 puts a proxy
# holding every chunk 25 ms each way (a 50 ms round trip) in front of it.
#
# Another build (to compare builds in one sitting): WHITEBOARD_BIN=its
# server binary (with its hash.txt beside it) and WHITEBOARD_SITE=its
# target/site, with BENCH_NO_BUILD=1.
#
# Builds the release site first (skip with BENCH_NO_BUILD=1). Prints a
# table row per size; figures go to docs/benchmarks.md with this command.
# Screenshots of each board land in end2end/test-results/bench/.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ensure_build_tools
ensure_apt chromium curl
[ -n "${BENCH_NO_BUILD:-}" ] || build_release

WORK="$(mktemp -d)"
SERVER_PID=""
PROXY_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

port="$(free_port)"
# The benchmark seeds its boards over a raw socket at full speed: lift the
# per-connection budgets, or seeding 100,000 strokes meets `rate_limited`
# (and the image uploads' budget, or seeding 40 images meets 429).
WHITEBOARD_DURABLE_PER_SEC=1000000 WHITEBOARD_EPHEMERAL_PER_SEC=1000000 \
  WHITEBOARD_EPHEMERAL_BYTES_PER_SEC=1000000000 WHITEBOARD_CONNECTIONS_PER_ADDRESS=1000000 \
  WHITEBOARD_IMAGE_UPLOADS_PER_MINUTE=1000000 \
  LEPTOS_SITE_ROOT="${WHITEBOARD_SITE:-$ROOT/target/site}" "${WHITEBOARD_BIN:-$ROOT/target/release/whiteboard}" \
  --addr "127.0.0.1:$port" --data-dir "$WORK/data" --log warn >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for_port "$port" whiteboard

url_port="$port"
if [ -n "${BENCH_LATENCY_MS:-}" ]; then
  url_port="$(free_port)"
  node "$ROOT/end2end/bench/latency-proxy.js" "$url_port" "$port" "$BENCH_LATENCY_MS" &
  PROXY_PID=$!
  wait_for_port "$url_port" "latency proxy"
fi

cd "$ROOT/end2end"
BENCH_URL="http://127.0.0.1:$url_port" BENCH_SERVER_PID="$SERVER_PID" \
  npx playwright test -c bench.config.ts "$@"
