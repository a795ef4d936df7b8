#!/usr/bin/env bash
# Installs what building and testing whiteboard needs on Debian, skipping
# whatever is already there. Sourced by scripts/run.sh and scripts/test.sh.
#
# Nothing here downloads a prebuilt binary: tools come from apt, crates.io
# (built from source) and npm.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"
# Must equal the `wasm-bindgen` crate version pinned in Cargo.toml / Cargo.lock.
WASM_BINDGEN_VERSION="$(grep -A1 '^name = "wasm-bindgen"$' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p')"

export PATH="$ROOT/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
ensure_apt() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "apt: installing ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "rustup: adding wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then return; fi
  log "cargo: installing cargo-leptos $CARGO_LEPTOS_VERSION (takes about 20 minutes once)"
  # 0.3.11 needs a newer rustc; its own release profile (fat LTO) is very slow
  # on two cores, so build it with a lighter one. `no_downloads`: it must use
  # the tools on PATH instead of fetching binaries.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=2 \
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
}

ensure_wasm_bindgen() {
  if wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then return; fi
  log "cargo: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked \
    || cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
}

ensure_node_packages() {
  command -v npm >/dev/null || ensure_apt nodejs npm
  if [ ! -x "$ROOT/end2end/node_modules/.bin/wasm-opt" ] || [ ! -x "$ROOT/end2end/node_modules/.bin/playwright" ] \
    || [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    log "npm: installing end2end packages (Playwright without browsers, binaryen's wasm-opt)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
  # Debian's binaryen (wasm-opt 108) silently breaks hydration; ours must win.
  local found
  found="$(command -v wasm-opt)"
  [ "$found" = "$ROOT/end2end/node_modules/.bin/wasm-opt" ] || { echo "wrong wasm-opt on PATH: $found" >&2; exit 1; }
}

ensure_build_tools() {
  ensure_apt ca-certificates gcc pkg-config
  ensure_rust
  ensure_node_packages
  ensure_cargo_leptos
  ensure_wasm_bindgen
}

SECANTUS_VERSION="0.7.0b3"
SECANTUS_VENV="$ROOT/.tools/secantus"

# Redis and a MongoDB-wire-protocol server (SecantusDB, from PyPI) for tests.
ensure_test_services() {
  ensure_apt redis-server python3-venv
  if [ ! -x "$SECANTUS_VENV/bin/secantusd-py" ]; then
    log "pip: installing SecantusDB $SECANTUS_VERSION (MongoDB-protocol test server)"
    python3 -m venv "$SECANTUS_VENV"
    "$SECANTUS_VENV/bin/pip" install -q "SecantusDB==$SECANTUS_VERSION"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
  local port="$1" name="$2"
  for _ in $(seq 1 150); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$name did not open port $port" >&2
  return 1
}

# Starts redis-server and (unless MONGODB_URI names a real MongoDB) SecantusDB
# on free loopback ports, exports their addresses for the tests, and stops
# them when the calling script exits.
start_test_services() {
  SERVICES_DIR="$(mktemp -d)"
  trap stop_test_services EXIT
  local redis_port
  redis_port="$(free_port)"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$SERVICES_DIR/redis.pid" --logfile "$SERVICES_DIR/redis.log"
  wait_for_port "$redis_port" redis-server
  export WHITEBOARD_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
  if [ -n "${MONGODB_URI:-}" ]; then
    log "tests use the MongoDB at \$MONGODB_URI"
    export WHITEBOARD_TEST_MONGODB_URI="$MONGODB_URI"
  else
    local mongo_port
    mongo_port="$(free_port)"
    "$SECANTUS_VENV/bin/secantusd-py" --host 127.0.0.1 --port "$mongo_port" \
      --storage-path "$SERVICES_DIR/mongo" --cache-size 256M --log-level WARNING --sync-on-commit \
      >"$SERVICES_DIR/mongo.log" 2>&1 &
    echo $! >"$SERVICES_DIR/mongo.pid"
    wait_for_port "$mongo_port" SecantusDB
    export WHITEBOARD_TEST_MONGODB_URI="mongodb://127.0.0.1:$mongo_port/?directConnection=true"
  fi
  # Outage tests start, kill and restart private servers from these.
  WHITEBOARD_TEST_REDIS_SERVER="$(command -v redis-server)"
  export WHITEBOARD_TEST_REDIS_SERVER
  export WHITEBOARD_TEST_SECANTUSD="$SECANTUS_VENV/bin/secantusd-py"
  # Tests that need these services fail instead of skipping.
  export WHITEBOARD_REQUIRE_SERVICES=1
  log "test services: Redis at $WHITEBOARD_TEST_REDIS_URL, MongoDB protocol at $WHITEBOARD_TEST_MONGODB_URI"
}

stop_test_services() {
  [ -n "${SERVICES_DIR:-}" ] || return 0
  for pidfile in "$SERVICES_DIR/redis.pid" "$SERVICES_DIR/mongo.pid" "$SERVICES_DIR/nginx.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$SERVICES_DIR"
}

# Starts nginx with docs/deploy/nginx.conf (the shipped file, only its
# addresses replaced): listening on 127.0.0.1:$2, balancing over the instance
# addresses $3 and $4, pid file in $1. Stop it with `kill "$(cat $1/nginx.pid)"`.
start_nginx() {
  local dir="$1" port="$2" first="$3" second="$4"
  sed -e "s|listen 127.0.0.1:8000;|listen 127.0.0.1:$port;|" \
    -e "s|server 127.0.0.1:8001;|server $first;|" \
    -e "s|server 127.0.0.1:8002;|server $second;|" \
    -e "s|pid /tmp/whiteboard-nginx.pid;|pid $dir/nginx.pid;|" \
    -e "s|worker_rlimit_nofile 65536;|worker_rlimit_nofile $(ulimit -Hn);|" \
    "$ROOT/docs/deploy/nginx.conf" >"$dir/nginx.conf"
  for expected in "listen 127.0.0.1:$port;" "server $first;" "server $second;" "pid $dir/nginx.pid;"; do
    grep -qF "$expected" "$dir/nginx.conf" || { echo "docs/deploy/nginx.conf no longer has the addresses this script replaces" >&2; return 1; }
  done
  nginx -c "$dir/nginx.conf" -p "$dir"
  wait_for_port "$port" nginx
}

# Builds the server binary and the site (WASM bundle, CSS, assets) in release
# mode, with hashed file names and gzip and brotli copies beside each file.
build_release() {
  log "cargo leptos build --release --precompress"
  (cd "$ROOT" && cargo leptos build --release --precompress)
}
