#!/usr/bin/env bash
# make up: install what is missing, start the backing services and the suite, load the demo
# city, print where everything is. Running it again is harmless.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/deploy/local/install.sh"
"$ROOT/deploy/local/backing.sh" start
"$ROOT/deploy/local/suite.sh" start
set -a; source "$VAR/secrets.env"; set +a
export FIRST_ADMIN_USER="${FIRST_ADMIN_USER:-admin}" FIRST_ADMIN_PASSWORD="${FIRST_ADMIN_PASSWORD:-Admin-demo-2026}"
PORT="${GATEWAY_PORT:-8000}"
VAR="$VAR" "$PY" "$ROOT/deploy/local/demo_city.py" "http://127.0.0.1:$PORT" > "$VAR/demo-city.json"
cat <<MSG

  一码通城 one-code city is up.

  API          http://127.0.0.1:$PORT/docs   (OpenAPI: /openapi.json)
  Readiness    http://127.0.0.1:$PORT/readyz
  RabbitMQ     http://127.0.0.1:15672 (guest / guest)
  Demo partners  payments http://127.0.0.1:${PAYMENT_PORT:-8701}, SMS http://127.0.0.1:${SMS_PORT:-8702}
                 (texts a phone received: GET /messages?to=… with the SMS_SECRET of var/secrets.env)

  Demo logins (password for all but admin: Demo-pass-2026)
    admin            $FIRST_ADMIN_USER / $FIRST_ADMIN_PASSWORD
    supervisor       supervisor.hp     (和平区)
    street staff     staff.nh, staff.tyj
    department staff staff.cl (残联), staff.mz (民政), staff.sj (市场监管)
    assessing doctor doctor.hp (区残联's assessor: signs disability assessments)
    auditor          auditor.hp (和平区: reads payouts, decision records and ledgers)
    verifiers        verifier.hotel, verifier.metro
    citizens         citizen.wang, citizen.li, citizen.xiaomei (with a code each)
    enterprise       ent.xinghe
  Partner client secrets: $VAR/demo-partners.json

  Stop everything: make down
MSG
