#!/usr/bin/env bash
# Runs every check and test: formatting, clippy (server and WASM client),
# unit and integration tests (real server processes, real WebSockets),
# Playwright in Debian's Chromium against the release build, and short
# smokes of the benchmarks.
# Installs what it needs first; safe to run again.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ensure_build_tools
ensure_apt chromium nginx
ensure_test_services
start_test_services

cd "$ROOT"
log "cargo fmt --check"
cargo fmt --check
rustfmt --check --edition 2021 patches/wasm-streams/src/lib.rs

log "cargo clippy (server)"
cargo clippy --features ssr --all-targets -- -D warnings
log "cargo clippy (WASM client)"
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p wasm-streams --target wasm32-unknown-unknown -- -D warnings

log "cargo test (unit, store contract, server integration, two instances over Redis and MongoDB)"
cargo test --features ssr

build_release

log "playwright (Chromium)"
# One instance with embedded defaults, and two sharing Redis and MongoDB
# behind nginx (docs/deploy/nginx.conf), which Playwright starts.
E2E_PORT="$(free_port)" E2E_PORT_A="$(free_port)" E2E_PORT_B="$(free_port)" E2E_PORT_LB="$(free_port)"
export E2E_PORT E2E_PORT_A E2E_PORT_B E2E_PORT_LB
start_nginx "$SERVICES_DIR" "$E2E_PORT_LB" "127.0.0.1:$E2E_PORT_A" "127.0.0.1:$E2E_PORT_B"
(cd "$ROOT/end2end" && npx playwright test)

# The benchmarks' tools must keep working; their figures come from long runs
# (docs/benchmarks.md), not from these few seconds.
log "benchmark smokes: stroke storm (one instance, two behind nginx, raw relay), soak, cargo benches, browser benchmarks at 1,000 strokes and 3 images"
cargo build --release --features ssr --example storm --example relay --example soak
# The benches share the release build with `ssr` (without it cargo would build
# the library once more).
cargo bench --features ssr --bench frames
cargo bench --features ssr --bench snapshot -- 1000
cargo bench --features ssr --bench raster -- 1000
"$ROOT/scripts/storm.sh" one --boards 2 --users 5 --seconds 2 --strict
"$ROOT/scripts/storm.sh" two --boards 2 --users 5 --seconds 2 --strict
"$ROOT/scripts/storm.sh" relay --boards 2 --users 5 --seconds 2 --commit false --strict
soak_port="$(free_port)"
WHITEBOARD_CONNECTIONS_PER_ADDRESS=100000 "$ROOT/target/release/whiteboard" \
  --addr "127.0.0.1:$soak_port" --data-dir "$SERVICES_DIR/soak" --room-idle-secs 1 --log warn &
soak_pid=$!
wait_for_port "$soak_port" whiteboard
"$ROOT/target/release/examples/soak" --addr "127.0.0.1:$soak_port" --server-pid "$soak_pid" \
  --warmup-boards 20 --boards 100 --warmup-tabs 10 --tabs 50
kill "$soak_pid"
wait "$soak_pid" || true
BENCH_NO_BUILD=1 BENCH_SIZES=1000 BENCH_WINDOW_MS=500 BENCH_IMAGES=3 "$ROOT/scripts/bench-browser.sh"

log "all tests passed"
