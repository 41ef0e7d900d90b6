#!/usr/bin/env bash
# Install the backend and start it: http://127.0.0.1:8080 (embedded PostgreSQL unless
# DATABASE_URL is set). Extra arguments go to `hotline serve`, e.g. --role web.
source "$(dirname "$0")/lib.sh"
ensure_postgres
ensure_venv
cd "$ROOT"
if command -v espeak-ng >/dev/null 2>&1 && command -v sox >/dev/null 2>&1; then
  "$VENV/bin/hotline" prompts build >&2 || say "prompt build failed (the IVR will lack placeholder prompts)"
fi
say "starting: hotline serve $* (stop with Ctrl-C)"
exec "$VENV/bin/hotline" serve "$@"
