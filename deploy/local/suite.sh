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
# Where this suite's gateway is reached (printed cards name their status list under it).
export PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:$GATEWAY_PORT}"
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
  set -a
  # shellcheck source=/dev/null
  source "$file"
  set +a
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

dead_processes() {
  local f
  for f in "$RUN"/*.pid; do [ -e "$f" ] && ! running "$f" && basename "$f" .pid; done; true
}

# Every service process has started (it wrote where it serves its metrics) and the gateway
# finds the broker, the database and every service.
all_started() {
  local written=("$RUN"/*.metrics)
  [ -e "${written[0]}" ] && [ "${#written[@]}" -ge $((REPLICAS * ${#SERVICES[@]})) ]
}

ready() { all_started || return 1; "$PY" -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$GATEWAY_PORT/readyz', timeout=3).status == 200 else 1)"; }

start_process() {  # start_process NAME: identity … tasks-2, payment-partner, sms-partner, gateway
  local name="$1" svc i n
  case "$name" in
    payment-partner) launch "$name" "$PY" deploy/local/payment_partner.py --port "$PAYMENT_PORT" ;;
    sms-partner) launch "$name" "$PY" deploy/local/sms_partner.py --port "$SMS_PORT" ;;
    gateway) GATEWAY_WORKERS="$REPLICAS" launch gateway "$PY" -m services.gateway ;;
    *)
      svc="${name%-*}"; i="${name##*-}"; [ "$svc" = "$name" ] && i=1
      for n in "${!SERVICES[@]}"; do [ "${SERVICES[$n]}" = "$svc" ] && break; done
      # Each service process serves its Prometheus metrics on a port of its own:
      # GATEWAY_PORT + 10 * replica + the service's place (8011 identity … 8014 tasks, 8021 …),
      # or one the system chooses if another program holds it; $RUN/<process>.metrics says.
      METRICS_PORT=$((GATEWAY_PORT + 10 * i + n + 1)) METRICS_PORT_FILE="$RUN/$name.metrics" \
        launch "$name" "$VENV/bin/nameko" run --config "services/$svc/config.yaml" "services.$svc.service"
      ;;
  esac
}

tell_logs() {  # the end of each named process's log, on stderr
  local name
  for name in "$@"; do echo "--- $LOGS/$name.log" >&2; tail -n 25 "$LOGS/$name.log" >&2; done
}

start() {
  load_secrets
  local svc i name processes=()
  for svc in "${SERVICES[@]}"; do
    for i in $(seq 1 "$REPLICAS"); do
      name="$svc"; [ "$i" -gt 1 ] && name="$svc-$i"
      processes+=("$name")
    done
  done
  processes+=(payment-partner sms-partner gateway)
  for name in "${processes[@]}"; do start_process "$name"; done
  # A process that exits while the suite starts is started again once, as compose's
  # `restart: unless-stopped` and Kubernetes would (say, it lost a start-up race to another
  # replica); its log's end is told. Exiting a second time fails the start.
  local deadline=$((SECONDS + ${READY_TIMEOUT:-90})) restarted=" " dead=()
  while [ "$SECONDS" -lt "$deadline" ]; do
    mapfile -t dead < <(dead_processes)
    for name in "${dead[@]}"; do
      case "$restarted" in *" $name "*)
        tell_logs "$name"
        die "$name exited twice during start-up (logs in $LOGS)" ;;
      esac
      echo "$name exited during start-up; starting it again" >&2
      tell_logs "$name"
      restarted+="$name "
      rm -f "$RUN/$name.metrics"
      start_process "$name"
    done
    ready >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  local every=()
  mapfile -t every < <(cd "$LOGS" && ls -- *.log | sed 's/\.log$//')
  tell_logs "${every[@]}"
  die "the suite did not become ready on port $GATEWAY_PORT (logs in $LOGS)"
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
