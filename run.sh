#!/usr/bin/env bash
# Builds MeshHook.Silo, applies the schema, starts the silos and the HTTP gateway, publishes the example
# workflows (examples/*.json) through the gateway and triggers one run with curl, end to end.
#   ./run.sh [--silos N] [--once]
#     --silos N   how many silos to start (default 2)
#     --once      stop everything after the example run instead of waiting for Ctrl-C
# Uses ConnectionStrings__MeshHook when set; otherwise installs PostgreSQL from Debian's packages if needed
# and starts a throwaway server under .run/. Ctrl-C shuts the gateway and the silos down gracefully (SIGTERM),
# then Postgres. The gateway listens on http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")"
silos=2
once=false
while [ $# -gt 0 ]; do
  case "$1" in
    --silos) silos=${2:?--silos needs a number}; shift 2 ;;
    --once) once=true; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$silos" in ''|*[!0-9]*|0) echo "run.sh: --silos must be a positive number" >&2; exit 2 ;; esac

command -v dotnet >/dev/null || { echo "run.sh: the .NET SDK (dotnet) is required" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mkdir -p .run
echo "== building"
dotnet build MeshHook.Silo.sln -c Release -v quiet -nologo >.run/build.log 2>&1 || { cat .run/build.log; exit 1; }
silo_dll=Silo/bin/Release/net10.0/MeshHook.Silo.dll
gateway_dll=Gateway/bin/Release/net10.0/MeshHook.Gateway.dll
gateway=http://127.0.0.1:8080

pids=()
gateway_pid=""
pg_dir=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$gateway_pid" ]; then
    echo "== stopping the gateway (SIGTERM)"
    kill -TERM "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
  fi
  if [ ${#pids[@]} -gt 0 ]; then
    echo "== stopping silos (SIGTERM)"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if [ -n "$pg_dir" ]; then
    echo "== stopping Postgres"
    scripts/pg.sh stop "$pg_dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${ConnectionStrings__MeshHook:-}" ]; then
  echo "== starting a throwaway Postgres (.run/pg)"
  scripts/pg.sh install
  pg_dir=$(pwd)/.run/pg
  ConnectionStrings__MeshHook="$(scripts/pg.sh start "$pg_dir" "${MESHHOOK_PG_PORT:-55433}")"
  export ConnectionStrings__MeshHook
fi

# Secrets at rest are encrypted with this key (silos and the gateway share it). It is kept in .run/ beside the
# database whose secrets it encrypts, unless MeshHook__Secrets__Key is set already.
if [ -z "${MeshHook__Secrets__Key:-}" ]; then
  [ -s .run/secrets.key ] || (umask 077 && head -c 32 /dev/urandom | base64 >.run/secrets.key)
  MeshHook__Secrets__Key=$(cat .run/secrets.key)
  export MeshHook__Secrets__Key
fi

echo "== applying the schema"
dotnet "$silo_dll" --migrate

for i in $(seq 0 $((silos - 1))); do
  echo "== starting silo $i (silo port $((11111 + i)), gateway $((30000 + i)), http://127.0.0.1:$((8081 + i)))"
  # The example workflow calls the gateway itself on 127.0.0.1, which http_call may not reach by default.
  Orleans__SiloPort=$((11111 + i)) Orleans__GatewayPort=$((30000 + i)) MeshHook__Http__AllowedNetworks__0=127.0.0.0/8 \
    dotnet "$silo_dll" --urls "http://127.0.0.1:$((8081 + i))" >".run/silo-$i.log" 2>&1 &
  pids+=($!)
done

for i in $(seq 0 $((silos - 1))); do
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$((8081 + i))/health/ready" >/dev/null 2>&1 && break
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "silo $i exited; its log:"; cat ".run/silo-$i.log"; exit 1; }
    sleep 0.5
  done
  curl -fs "http://127.0.0.1:$((8081 + i))/health/ready" >/dev/null || { echo "silo $i did not become ready; see .run/silo-$i.log"; exit 1; }
  echo "   silo $i ready"
done

# The API (all of /api/ except webhooks) needs a key: one is made up for this run unless MESHHOOK_API_KEY gives it.
api_key=${MESHHOOK_API_KEY:-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')}
auth="Authorization: Bearer $api_key"
echo "== starting the gateway ($gateway, log in .run/gateway.log; API key: $api_key)"
MeshHook__Gateway__ApiKeys__0="$api_key" MeshHook__Http__AllowedNetworks__0=127.0.0.0/8 dotnet "$gateway_dll" --urls "$gateway" >.run/gateway.log 2>&1 &
gateway_pid=$!
for _ in $(seq 1 120); do
  curl -fs "$gateway/health/ready" >/dev/null 2>&1 && break
  kill -0 "$gateway_pid" 2>/dev/null || { echo "the gateway exited; its log:"; cat .run/gateway.log; exit 1; }
  sleep 0.5
done
curl -fs "$gateway/health/ready" >/dev/null || { echo "the gateway did not become ready; see .run/gateway.log"; exit 1; }
echo "   gateway ready"

echo "== publishing the example workflows (examples/audit.json, examples/orders.json)"
for wf in audit orders; do
  echo "   PUT /api/workflows/$wf -> $(curl -fsS -X PUT "$gateway/api/workflows/$wf" -H "$auth" -H 'Content-Type: application/json' --data-binary "@examples/$wf.json")"
done

trigger="curl -i -X POST $gateway/api/hooks/orders -H 'Content-Type: application/json' -d '{\"order\": 1001, \"customer\": \"ada\", \"amount\": 250}'"
echo "== triggering the example workflow:"
echo "   $trigger"
accepted=$(curl -fsS -X POST "$gateway/api/hooks/orders" -H 'Content-Type: application/json' \
  -d '{"order": 1001, "customer": "ada", "amount": 250}')
echo "   202 $accepted"
run_id=$(printf '%s' "$accepted" | sed -n 's/.*"runId":"\([^"]*\)".*/\1/p')
[ -n "$run_id" ] || { echo "no runId in the answer"; exit 1; }

echo "== GET /api/runs/$run_id until it finishes"
view=""
for _ in $(seq 1 120); do
  view=$(curl -fsS -H "$auth" "$gateway/api/runs/$run_id")
  status=$(printf '%s' "$view" | sed -n 's/^{"runId":"[^"]*","slug":"[^"]*","version":[0-9]*,"status":"\([a-z]*\)".*/\1/p')
  echo "   status: $status"
  case "$status" in succeeded|failed|canceled) break ;; esac
  sleep 0.5
done
echo "   $view"
echo "== GET /api/runs/$run_id/events"
curl -fsS -H "$auth" "$gateway/api/runs/$run_id/events" | sed 's/},{"seq"/},\n {"seq"/g; s/^/   /'
echo
[ "$status" = succeeded ] || { echo "the example run did not succeed"; exit 1; }

if [ "$once" = true ]; then
  exit 0
fi
cat <<INFO

The gateway and the silos keep running (logs in .run/). The API key of this run is $api_key
(webhooks need none). Try:
  $trigger
  curl -H '$auth' $gateway/api/runs/<runId>
  curl -H '$auth' $gateway/api/runs/<runId>/events
  curl -H '$auth' $gateway/api/workflows/orders
  curl -H '$auth' -X POST $gateway/api/runs/<runId>/cancel
  curl $gateway/health/ready
  curl $gateway/metrics
  curl $gateway/openapi/v1.json
Ctrl-C stops everything gracefully.
INFO
wait "$gateway_pid" "${pids[@]}"
