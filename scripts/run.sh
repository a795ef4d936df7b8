#!/usr/bin/env bash
# Runs whiteboard with embedded defaults on http://localhost:8000
# (in-process bus, redb store in ./data). Installs what it needs first.
# Extra arguments go to the server, e.g. `scripts/run.sh --addr 0.0.0.0:8000`.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ensure_build_tools
build_release
cd "$ROOT"
log "serving on http://localhost:8000 (Ctrl-C to stop)"
export LEPTOS_SITE_ROOT="$ROOT/target/site"
exec "$ROOT/target/release/whiteboard" "$@"
