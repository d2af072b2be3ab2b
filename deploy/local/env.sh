# Shared by the deploy/local scripts: where things live and which ports they use.
# shellcheck shell=bash
# The variables are for the scripts that source this file.
# shellcheck disable=SC2034
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
VAR="${VAR:-$ROOT/var}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/one-code-city"
FERRETDB_VERSION="v1.24.2"
# "-idindex": built with deploy/local/ferretdb-id-index.patch (see install.sh)
FERRETDB_BIN="$CACHE/bin/ferretdb-$FERRETDB_VERSION-idindex"
FERRETDB_ADDR="${FERRETDB_ADDR:-127.0.0.1:27017}"
SERVICES=(identity certs policy tasks)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# wait_for CMD... : retry a command for up to $WAIT_SECONDS (default 60) seconds.
wait_for() {
  local deadline=$((SECONDS + ${WAIT_SECONDS:-60}))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
