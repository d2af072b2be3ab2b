#!/usr/bin/env bash
# Installs what is missing: the Python venv and packages, RabbitMQ (Debian's package) and
# FerretDB 1.24 (built from its Go module). Safe to run again: it skips what is there.
set -euo pipefail
source "$(dirname "$0")/env.sh"

install_python() {
  local stamp
  stamp="$VENV/.installed-$(cat "$ROOT/pyproject.toml" "$ROOT/deploy/local/constraints.txt" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  say "Python packages into $VENV"
  [ -x "$PY" ] || python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check --upgrade pip
  "$PY" -m pip install -q --disable-pip-version-check -c "$ROOT/deploy/local/constraints.txt" -e "${ROOT}[dev]"
  rm -f "$VENV"/.installed-*; touch "$stamp"
}

apt_install() {
  say "apt-get install $*"
  [ "$(id -u)" = 0 ] || die "installing $* needs root (or install it yourself)"
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_rabbitmq() {
  [ -n "${AMQP_URI:-}" ] && return 0
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  rabbitmq-plugins --offline enable rabbitmq_management >/dev/null
}

install_ferretdb() {
  [ -n "${MONGO_URL:-}" ] && return 0
  [ -x "$FERRETDB_BIN" ] && return 0
  command -v go >/dev/null || die "Go is needed to build FerretDB (or set MONGO_URL to your MongoDB)"
  say "building FerretDB $FERRETDB_VERSION (once per machine)"
  local src
  # `go mod download` fetches the module itself; `go install pkg@version` would also ask the
  # proxy for the module's version list, which some proxies refuse.
  src="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  local build; build="$(mktemp -d)"
  cp -r "$src/." "$build/" && chmod -R u+w "$build"
  # A module download has no generated version file; the build refuses to start without one.
  echo "$FERRETDB_VERSION" > "$build/build/version/version.txt"
  # FerretDB 1.24's SQLite backend creates the unique _id index on `_ferretdb_sjson->"_id"`
  # but looks documents up by `_ferretdb_sjson->'$._id'`; SQLite only uses an expression
  # index for the identical expression, so every lookup by _id scanned the whole table
  # (measured: 320 ms at 200,000 documents, 1.7 ms with the index). The one-line patch makes
  # the lookup use the index's expression; data files are unchanged.
  (cd "$build" && git apply -p1 "$ROOT/deploy/local/ferretdb-id-index.patch")
  grep -q '`->"_id"`' "$build/internal/backends/sqlite/metadata/metadata.go" || die "FerretDB patch did not apply"
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  (cd "$build" && go build -trimpath -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb)
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  rm -rf "$build"
}

install_compose_validator() {
  # `docker compose config` (or Debian's docker-compose) validates docker-compose.yml in the
  # tests; neither needs a running Docker engine.
  docker compose version >/dev/null 2>&1 && return 0
  command -v docker-compose >/dev/null && return 0
  apt_install docker-compose
}

install_fonts() {
  # Printed code cards carry Chinese names: a CJK font for Pillow.
  [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && return 0
  apt_install fonts-wqy-microhei || say "no CJK font: printed cards will show names as ?"
}

install_browser_tools() {
  # The browser tests: Debian's Chromium (Playwright drives it; it never downloads a browser)
  # and axe-core from the npm registry, pinned by tests/browser/package-lock.json.
  command -v chromium >/dev/null || apt_install chromium
  local lock="$ROOT/tests/browser/package-lock.json" stamp="$ROOT/tests/browser/node_modules/.installed"
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    say "axe-core from the npm registry"
    (cd "$ROOT/tests/browser" && npm ci --silent --no-audit --no-fund) && touch "$stamp"
  fi
}

if [ "${1:-}" = browser ]; then
  install_browser_tools
  exit 0
fi

install_python
install_fonts
install_rabbitmq
install_ferretdb
install_compose_validator
