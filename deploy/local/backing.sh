#!/usr/bin/env bash
# backing.sh start|stop|status — RabbitMQ and the database, unless AMQP_URI / MONGO_URL
# point at ones you run yourself.
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$VAR/log" "$VAR/run" "$VAR/ferretdb"

rabbit_up() { rabbitmq-diagnostics -q check_running >/dev/null 2>&1; }
mongo_up() { "$PY" -c "import pymongo; pymongo.MongoClient('mongodb://$FERRETDB_ADDR/', serverSelectionTimeoutMS=500).admin.command('ping')" >/dev/null 2>&1; }

start() {
  if [ -z "${AMQP_URI:-}" ]; then
    if ! rabbit_up; then
      say "starting RabbitMQ"
      rabbitmq-server -detached >/dev/null 2>&1 || true
      WAIT_SECONDS=90 wait_for rabbit_up || die "RabbitMQ did not start (see /var/log/rabbitmq)"
    fi
    rabbitmqctl -q start_app >/dev/null 2>&1 || true
    # nameko's test helpers create vhosts through the management API.
    rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 || true
    wait_for "$PY" -c "import socket; socket.create_connection(('127.0.0.1', 15672), timeout=2)" \
      || die "the RabbitMQ management plugin did not start"
  fi
  if [ -z "${MONGO_URL:-}" ]; then
    if ! mongo_up; then
      say "starting FerretDB $FERRETDB_VERSION (SQLite backend, data in $VAR/ferretdb)"
      nohup "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$VAR/ferretdb/" \
        --state-dir="$VAR/ferretdb" --listen-addr="$FERRETDB_ADDR" --debug-addr=127.0.0.1:0 \
        --telemetry=disable --log-level=warn > "$VAR/log/ferretdb.log" 2>&1 &
      echo $! > "$VAR/run/ferretdb.pid"
      wait_for mongo_up || die "FerretDB did not start (see $VAR/log/ferretdb.log)"
    fi
  fi
}

stop() {
  if [ -f "$VAR/run/ferretdb.pid" ]; then
    kill "$(cat "$VAR/run/ferretdb.pid")" 2>/dev/null || true
    rm -f "$VAR/run/ferretdb.pid"
  fi
  if [ -z "${AMQP_URI:-}" ] && rabbit_up; then rabbitmqctl -q stop >/dev/null 2>&1 || true; fi
}

status() {
  if rabbit_up; then echo "rabbitmq: up"; else echo "rabbitmq: down"; fi
  if mongo_up; then echo "database: up"; else echo "database: down"; fi
}

"${1:-start}"
