# Shared install steps for scripts/serve.sh and scripts/test.sh (sourced, not run).
# Everything the project needs on a fresh Debian/Ubuntu machine is installed from here.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HOTLINE_VENV:-$ROOT/.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run apt-get as root, or through sudo; return 1 when neither is possible.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || return 1
    if sudo -n true 2>/dev/null; then sudo="sudo -n"
    elif [ -t 0 ]; then sudo="sudo"          # a sudoer at a terminal is asked for the password
    else return 1; fi
  fi
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "${_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq >&2 || return 1
    _APT_UPDATED=1
  fi
  # `env` inside sudo: sudo's env_reset would drop DEBIAN_FRONTEND and let debconf prompt
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

find_python() {
  local py
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

ensure_venv() {
  local py extra="${1:-}"
  py="$(find_python)" || die "Python >= 3.11 is required (install python3 >= 3.11)"
  # A venv left half-made by an earlier failure has bin/python but no pip: start it again.
  if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    if ! "$py" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      local ver
      ver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
      say "installing python${ver}-venv"
      apt_install "python${ver}-venv" || apt_install python3-venv \
        || die "cannot create a venv: install python${ver}-venv"
      "$py" -m venv "$VENV"
    fi
  fi
  say "installing the project${extra:+ with [$extra]} into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q -e "$ROOT${extra:+[$extra]}" >&2
}

have_pg_server() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1
}

# The embedded database needs the PostgreSQL server binaries (not a running server).
ensure_postgres() {
  [ -n "${DATABASE_URL:-}" ] && return 0
  have_pg_server && return 0
  say "installing the PostgreSQL server package (apt)"
  apt_install postgresql || die "PostgreSQL server binaries are missing and cannot be installed here. \
Install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing server."
  have_pg_server || die "PostgreSQL was installed but initdb/pg_ctl were not found"
}

# Programs the tests use: Chromium for the console, espeak-ng + sox for test speech.
ensure_test_tools() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
  command -v sox >/dev/null 2>&1 || missing+=(sox)
  # A Chinese font, so the console's screenshots show characters rather than empty boxes.
  dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing+=(fonts-wqy-microhei)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} (apt)"
    apt_install "${missing[@]}" || die "please install: ${missing[*]}"
  fi
}
