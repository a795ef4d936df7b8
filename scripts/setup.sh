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

# Builds the server binary and the site (WASM bundle, CSS, assets) in release mode.
build_release() {
  log "cargo leptos build --release"
  (cd "$ROOT" && cargo leptos build --release)
}
