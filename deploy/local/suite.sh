#!/usr/bin/env bash
# suite.sh start|stop|status — the four nameko services and the gateway, each its own process.
#
# SUITE names an instance (default "main"): its pids and logs go to var/run/$SUITE and
# var/log/$SUITE, so the test suite can run its own instance (own vhost, own databases, own
# port) beside one started by `make up`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
SUITE="${SUITE:-main}"
# REPLICAS=2: two nameko processes of every service and two gateway workers (uvicorn), as a
# small scale-out on one machine; timers and consumers are safe with several running.
REPLICAS="${REPLICAS:-1}"
RUN="$VAR/run/$SUITE"
LOGS="$VAR/log/$SUITE"
export GATEWAY_PORT="${GATEWAY_PORT:-8000}"
# The demo payment partner of this suite (deploy/local/payment_partner.py).
export PAYMENT_PORT="${PAYMENT_PORT:-8701}"
export PAYMENT_URL="${PAYMENT_URL:-http://127.0.0.1:$PAYMENT_PORT}"
export PAYMENT_LEDGER="${PAYMENT_LEDGER:-$VAR/run/$SUITE-payments.jsonl}"
# The partner accepts, pays a moment later and calls the gateway back, signed.
export PAYMENT_CALLBACK_URL="${PAYMENT_CALLBACK_URL:-http://127.0.0.1:$GATEWAY_PORT/v1/payment-callbacks}"
# The demo SMS gateway (deploy/local/sms_partner.py): identity texts pushed policies.
export SMS_PORT="${SMS_PORT:-8702}"
export SMS_URL="${SMS_URL:-http://127.0.0.1:$SMS_PORT}"
export SMS_OUTBOX="${SMS_OUTBOX:-$VAR/run/$SUITE-sms.jsonl}"
mkdir -p "$RUN" "$LOGS"

load_secrets() {
  # Demo secrets for one machine, made once; production sets SECRET_KEY itself.
  local file="$VAR/secrets.env"
  if [ ! -f "$file" ]; then
    umask 077
    printf 'SECRET_KEY=%s\n' "$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')" > "$file"
  fi
  for name in PAYMENT_SECRET SMS_SECRET; do
    if ! grep -q "^$name=" "$file"; then
      printf '%s=%s\n' "$name" "$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')" >> "$file"
    fi
  done
  set -a; source "$file"; set +a
  export FIRST_ADMIN_USER="${FIRST_ADMIN_USER:-admin}"
  export FIRST_ADMIN_PASSWORD="${FIRST_ADMIN_PASSWORD:-Admin-demo-2026}"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

launch() {  # launch NAME CMD...
  local name="$1"; shift
  if running "$RUN/$name.pid"; then return 0; fi
  (cd "$ROOT" && exec nohup "$@" >> "$LOGS/$name.log" 2>&1) &
  echo $! > "$RUN/$name.pid"
}

all_alive() {
  for f in "$RUN"/*.pid; do
    running "$f" || { echo "$(basename "$f" .pid) exited during start-up" >&2; return 1; }
  done
}

# Every service process has started (it wrote where it serves its metrics) and the gateway
# finds the broker, the database and every service.
all_started() { [ "$(ls "$RUN" | grep -c '\.metrics$')" -ge $((REPLICAS * ${#SERVICES[@]})) ]; }

ready() { all_alive || return 2; all_started || return 1; "$PY" -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$GATEWAY_PORT/readyz', timeout=3).status == 200 else 1)"; }

start() {
  load_secrets
  local svc i n name
  # Each service process serves its Prometheus metrics on a port of its own:
  # GATEWAY_PORT + 10 * replica + the service's place (8011 identity … 8014 tasks, 8021 …),
  # or one the system chooses if another program holds that one; $RUN/<process>.metrics says.
  for n in "${!SERVICES[@]}"; do
    svc="${SERVICES[$n]}"
    for i in $(seq 1 "$REPLICAS"); do
      name="$svc"; [ "$i" -gt 1 ] && name="$svc-$i"
      METRICS_PORT=$((GATEWAY_PORT + 10 * i + n + 1)) METRICS_PORT_FILE="$RUN/$name.metrics" \
        launch "$name" "$VENV/bin/nameko" run --config "services/$svc/config.yaml" "services.$svc.service"
    done
  done
  launch payment-partner "$PY" deploy/local/payment_partner.py --port "$PAYMENT_PORT"
  launch sms-partner "$PY" deploy/local/sms_partner.py --port "$SMS_PORT"
  GATEWAY_WORKERS="$REPLICAS" launch gateway "$PY" -m services.gateway
  local deadline=$((SECONDS + ${READY_TIMEOUT:-90})) outcome=1
  while [ "$SECONDS" -lt "$deadline" ]; do
    outcome=0; ready >/dev/null 2>&1 || outcome=$?
    [ "$outcome" = 1 ] || break
    sleep 0.5
  done
  if [ "$outcome" != 0 ]; then
    # The processes that died, with the end of their logs; if none died, every log's end.
    local f dead=()
    for f in "$RUN"/*.pid; do running "$f" || dead+=("$(basename "$f" .pid)"); done
    [ ${#dead[@]} -gt 0 ] || dead=("$(cd "$LOGS" && ls -- *.log | sed 's/\.log$//')")
    for name in ${dead[*]}; do echo "--- $LOGS/$name.log" >&2; tail -n 25 "$LOGS/$name.log" >&2; done
    [ "$outcome" = 2 ] && echo "exited during start-up: ${dead[*]}" >&2
    die "the suite did not become ready on port $GATEWAY_PORT (logs in $LOGS)"
  fi
}

stop() {
  local pids=()
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    running "$f" && pids+=("$(cat "$f")")
  done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 40); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.25
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -f "$RUN"/*.pid "$RUN"/*.metrics
}

status() {
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    if running "$f"; then echo "$(basename "$f" .pid): running"; else echo "$(basename "$f" .pid): stopped"; fi
  done
}

"${1:-start}"
