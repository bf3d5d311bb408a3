#!/usr/bin/env bash
# The container test: real images, real containers (podman, host networking), a real Postgres.
#   tests/Containers/run.sh
# 1. images       scripts/images.sh builds localhost/meshhook-silo:dev and localhost/meshhook-gateway:dev from the
#                 project's Dockerfiles (a local base image passed as the build argument where the official one cannot
#                 be pulled); the images run as a numeric non-root user, with an exec-form ENTRYPOINT and STOPSIGNAL
#                 SIGTERM, and carry neither the host's CA nor a secret.
# 2. webhooks     Postgres (scripts/pg.sh, own port), the schema applied by the silo image's --migrate, three silo
#                 containers and a gateway container; a workflow (transform -> 300 ms delay -> http_call to a local
#                 peer answering after 600 ms -> transform) published through the gateway's API with the API key, and
#                 webhooks sent to it without pause until the end. Checked last: every run accepted during the whole
#                 test succeeded, with a gap-free history and no checkpointed step repeated, and no intake failed.
# 3. scale-out    a fourth silo container joins and takes new runs (workflow_runs.silo names it).
# 4. stop-one     `podman stop -t 30` of a silo container running runs: exit code 0 within the grace period,
#                 a meshhook_shutdowns row (not forced), its runs handed off and resumed on other silos.
# 5. rolling      every silo container in turn is stopped and replaced, webhooks flowing: each exits 0 in time,
#                 0 failed webhook intakes (a 503 + Retry-After retried by the client is counted, not a failure).
# 6. scale-in     two silo containers stopped at once: both exit 0 within the grace period, not forced.
# After each of 3-6, every run accepted so far must have succeeded, with a consistent history (see check_runs).
# Prints the figures (stop-to-exit, hand-off latency, intake counts) and ends with "tests: N passed, M failed";
# exits 0 only when all pass. Every container and process it started is removed on exit, Ctrl-C included.
#
# Environment: MESHHOOK_CONTAINERS_PG_PORT (default 55981), MESHHOOK_CONTAINERS_PORT_BASE (default 40100: gateway
# HTTP on base, the peer on base+1, each silo container on three ports from base+10..base+99 free when it starts),
# MESHHOOK_CONTAINERS_KEEP_LOGS=1 keeps the work directory (logs of every container) even when all pass.
# ConnectionStrings__MeshHook is not used: the checks count rows (shutdowns, runs) in a database of their own.
# Needs root on Debian (podman runs rootful; scripts/images.sh installs podman, runc and debootstrap).
set -uo pipefail
cd "$(dirname "$0")/../.."
here=$(pwd)/tests/Containers

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0; fi
[ $# -eq 0 ] || { echo "run.sh: no arguments expected (see --help)" >&2; exit 2; }

pg_port=${MESHHOOK_CONTAINERS_PG_PORT:-55981}
port_base=${MESHHOOK_CONTAINERS_PORT_BASE:-40100}
grace=30
gateway_port=$port_base
peer_port=$((port_base + 1))
gateway=http://127.0.0.1:$gateway_port
silo_image=localhost/meshhook-silo:dev
gateway_image=localhost/meshhook-gateway:dev
prefix=mhct-$$
work=$(mktemp -d -t meshhook-containers.XXXXXX)
# Postgres runs as the "postgres" user, with its data directory inside this one.
chmod 755 "$work"
mkdir -p "$work/logs"
started_at=$(date +%s)

podman=(podman)
command -v runc >/dev/null 2>&1 && podman+=(--runtime runc)

passed=0
failed=0
summary=()
expected=(images webhooks scale-out stop-one rolling scale-in)
done_names=" "

note() { echo "[$(( $(date +%s) - started_at ))s] $*"; }
verdict() {
  # verdict NAME OK DETAIL
  local name=$1 ok=$2 detail=$3
  done_names="$done_names$name "
  if [ "$ok" = true ]; then
    passed=$((passed + 1)); summary+=("PASS $name: $detail"); echo "PASS $name: $detail"
  else
    failed=$((failed + 1)); summary+=("FAIL $name: $detail"); echo "FAIL $name: $detail"
  fi
}

containers=()
load_pids=()
peer_pid=""
pg_dir=""
cleanup() {
  trap - EXIT INT TERM
  touch "$work/stop" 2>/dev/null
  [ ${#load_pids[@]} -gt 0 ] && kill "${load_pids[@]}" 2>/dev/null
  local c
  for c in "${containers[@]}"; do
    "${podman[@]}" container exists "$c" 2>/dev/null || continue
    "${podman[@]}" logs "$c" >"$work/logs/$c.log" 2>&1
    "${podman[@]}" rm -f -t 0 "$c" >/dev/null 2>&1
  done
  [ -n "$peer_pid" ] && kill -TERM -- "-$peer_pid" 2>/dev/null
  [ -n "$pg_dir" ] && scripts/pg.sh stop "$pg_dir"
  if [ "$failed" -eq 0 ] && [ "${MESHHOOK_CONTAINERS_KEEP_LOGS:-0}" != 1 ]; then
    rm -rf "$work"
  else
    echo "container test: logs of every container in $work/logs"
  fi
}
trap cleanup EXIT
trap 'echo "container test: interrupted"; exit 130' INT TERM

finish() {
  local name
  for name in "${expected[@]}"; do
    case "$done_names" in *" $name "*) ;; *) verdict "$name" false "not run: $1" ;; esac
  done
  echo
  echo "== container test summary ($(( $(date +%s) - started_at )) s)"
  printf '  %s\n' "${summary[@]}"
  cleanup
  echo "tests: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}

# Every local TCP port a socket holds on this host (listening or connected), from /proc/net/tcp and tcp6. Sockets in
# TIME_WAIT (state 06) are left out: they do not stop a bind with SO_REUSEADDR, which Kestrel, Orleans, Postgres and
# the peer all set.
used_ports() {
  local _sl address _remote state _rest
  { tail -n +2 /proc/net/tcp; tail -n +2 /proc/net/tcp6; } 2>/dev/null | while read -r _sl address _remote state _rest; do
    [ "$state" = 06 ] || echo $((16#${address##*:}))
  done | sort -un
}

psql_q() { PGOPTIONS='-c client_min_messages=warning' psql "host=127.0.0.1 port=$pg_port user=postgres dbname=postgres" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
now_ms() { date +%s%3N; }
ts_utc() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

# ---------------------------------------------------------------------------------------------------------------
# 1. images
note "== 1. images: scripts/images.sh"
images_started=$(date +%s)
if ! scripts/images.sh 2>&1 | tee "$work/images.log" | sed 's/^/   /'; then :; fi
images_seconds=$(( $(date +%s) - images_started ))
if ! grep -q "^images.sh: built $silo_image and $gateway_image" "$work/images.log"; then
  verdict images false "scripts/images.sh failed (output above)"
  finish "the images could not be built"
fi
command -v runc >/dev/null 2>&1 && podman=(podman --runtime runc)
image_problems=()
for image in "$silo_image" "$gateway_image"; do
  user=$("${podman[@]}" image inspect --format '{{.Config.User}}' "$image")
  entrypoint=$("${podman[@]}" image inspect --format '{{json .Config.Entrypoint}}' "$image")
  stopsignal=$("${podman[@]}" image inspect --format '{{.Config.StopSignal}}' "$image")
  envs=$("${podman[@]}" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image")
  case "${user%%:*}" in ''|0|root) image_problems+=("$image runs as root (User '$user')") ;; *[!0-9]*) image_problems+=("$image: User '$user' is not numeric") ;; esac
  case "$entrypoint" in '["dotnet",'*) ;; *) image_problems+=("$image: ENTRYPOINT $entrypoint is not the exec form starting dotnet") ;; esac
  [ "$stopsignal" = SIGTERM ] || image_problems+=("$image: STOPSIGNAL '$stopsignal', not SIGTERM")
  if echo "$envs" | grep -Eiq '^(ConnectionStrings__|MeshHook__Secrets__|MeshHook__Gateway__ApiKeys)'; then
    image_problems+=("$image: a connection string, secrets key or API key is baked into its environment")
  fi
  # The host's own CAs (the TLS proxy's) must not be in the image's trust store.
  bundle=$("${podman[@]}" run --rm --network none --entrypoint cat "$image" /etc/ssl/certs/ca-certificates.crt 2>/dev/null)
  for ca in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$ca" ] || continue
    line=$(grep -v -- '-----' "$ca" | sed -n 2p)
    [ -n "$line" ] && case "$bundle" in *"$line"*) image_problems+=("$image trusts the host's CA $(basename "$ca")") ;; esac
  done
  whoami_in=$("${podman[@]}" run --rm --network none --entrypoint id "$image" -u 2>/dev/null)
  [ "$whoami_in" = "${user%%:*}" ] || image_problems+=("$image: 'id -u' inside gives '$whoami_in', expected ${user%%:*}")
done
base_used=$(sed -n 's/^images.sh: built .* on \(.*\) with .*/\1/p' "$work/images.log")
if [ ${#image_problems[@]} -eq 0 ]; then
  verdict images true "built in ${images_seconds} s on $base_used; non-root uid $user, exec-form ENTRYPOINT, STOPSIGNAL SIGTERM, no host CA, no secret"
else
  verdict images false "$(IFS='; '; echo "${image_problems[*]}")"
fi

# ---------------------------------------------------------------------------------------------------------------
# 2. Postgres, peer, silos, gateway, workflow, load
note "== 2. Postgres on 127.0.0.1:$pg_port, the peer, three silo containers and the gateway container"
# Host networking: the fixed ports must be free (a container test running already, or the containers of one that was
# killed, would hold them: podman ps -a --filter label=meshhook-container-test). The silos' ports are chosen free
# when each silo starts (see next_free_port).
busy=()
used=" $(used_ports | tr '\n' ' ') "
for port in "$pg_port" "$gateway_port" "$peer_port"; do
  case "$used" in *" $port "*) busy+=("$port") ;; esac
done
[ ${#busy[@]} -eq 0 ] || finish "ports already in use on 127.0.0.1: ${busy[*]} (set MESHHOOK_CONTAINERS_PORT_BASE / MESHHOOK_CONTAINERS_PG_PORT, or remove leftover containers: podman ps -a --filter label=meshhook-container-test)"
scripts/pg.sh install >/dev/null || finish "PostgreSQL could not be installed"
pg_dir=$work/pg
if ! connection=$(PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" scripts/pg.sh start "$pg_dir" "$pg_port"); then
  finish "Postgres could not start on port $pg_port"
fi
secrets_key=$(head -c 32 /dev/urandom | base64)
api_key=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
common_env=(-e "ConnectionStrings__MeshHook=$connection" -e "MeshHook__Secrets__Key=$secrets_key" -e "MeshHook__Http__AllowedNetworks__0=127.0.0.0/8")

setsid perl "$here/peer.pl" "$peer_port" "$work/peer.log" >"$work/logs/peer.log" 2>&1 &
peer_pid=$!

# The schema, applied once by the silo image (as a Kubernetes Job would), before any silo starts.
if ! "${podman[@]}" run --rm --network host "${common_env[@]}" "$silo_image" --migrate >"$work/logs/migrate.log" 2>&1; then
  cat "$work/logs/migrate.log"
  finish "the silo image's --migrate failed"
fi
note "schema applied by '$silo_image --migrate'"

# Silo ports: each silo container gets three ports (HTTP, Orleans silo, Orleans gateway) never used before in this
# run, from base+10 to base+99, skipping every port some socket holds at that moment. The range lies inside the
# kernel's ephemeral range (32768-60999 by default), so an outgoing connection may hold one of them as its local port.
declare -A slot_container=() slot_http=() slot_orleans=()
generation=0
port_cursor=$((port_base + 10))
port_collisions=0
silo_http() { echo "${slot_http[$1]}"; }
silo_port() { echo "${slot_orleans[$1]}"; }
# next_free_port: sets free_port (not a subshell, so the cursor advances).
next_free_port() {
  local used
  used=" $(used_ports | tr '\n' ' ') "
  while [ "$port_cursor" -le $((port_base + 99)) ]; do
    free_port=$port_cursor
    port_cursor=$((port_cursor + 1))
    case "$used" in *" $free_port "*) ;; *) return 0 ;; esac
  done
  echo "   no free port left in $((port_base + 10))-$((port_base + 99))"
  return 1
}

# start_silo SLOT: starts a silo container for that slot on three free ports, records its name and ports.
start_silo() {
  local slot=$1 name gateway_port_of_silo
  generation=$((generation + 1))
  name=$prefix-silo$slot-g$generation
  next_free_port || return 1; slot_http[$slot]=$free_port
  next_free_port || return 1; slot_orleans[$slot]=$free_port
  next_free_port || return 1; gateway_port_of_silo=$free_port
  containers+=("$name")
  slot_container[$slot]=$name
  "${podman[@]}" run -d --name "$name" --label meshhook-container-test=1 --hostname "$name" --network host --stop-timeout "$grace" "${common_env[@]}" \
    -e "ASPNETCORE_URLS=http://127.0.0.1:$(silo_http "$slot")" \
    -e "Orleans__SiloPort=$(silo_port "$slot")" -e "Orleans__GatewayPort=$gateway_port_of_silo" \
    "$silo_image" >/dev/null
}

# wait_ready URL CONTAINER SECONDS
wait_ready() {
  local url=$1 name=$2 deadline=$(( $(date +%s) + $3 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    curl -fs -o /dev/null --max-time 2 "$url/health/ready" && return 0
    [ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || { echo "   $name is not running"; return 1; }
    sleep 0.3
  done
  echo "   $name did not answer ready at $url within $3 s"
  return 1
}

# ready_silo SLOT SECONDS: waits until the silo in SLOT is ready. A silo that exits because one of its ports was taken
# by another socket between the check and its bind is started again on other ports, at most twice (counted, printed).
ready_silo() {
  local slot=$1 seconds=$2 attempt name
  for attempt in 1 2 3; do
    name=${slot_container[$slot]}
    wait_ready "http://127.0.0.1:$(silo_http "$slot")" "$name" "$seconds" && return 0
    [ "$attempt" -lt 3 ] && "${podman[@]}" logs "$name" 2>&1 | grep -q "address already in use" || return 1
    port_collisions=$((port_collisions + 1))
    note "   $name exited: a port was taken by another socket before it could bind it; slot $slot starts again on other ports"
    "${podman[@]}" logs "$name" >"$work/logs/$name.log" 2>&1
    "${podman[@]}" rm -f -t 0 "$name" >/dev/null 2>&1
    start_silo "$slot" || return 1
  done
  return 1
}

for slot in 1 2 3; do start_silo "$slot" || finish "silo container $slot could not start"; done
for slot in 1 2 3; do
  ready_silo "$slot" 120 || finish "silo $slot did not become ready"
done
note "three silos ready"
containers+=("$prefix-gateway")
"${podman[@]}" run -d --name "$prefix-gateway" --label meshhook-container-test=1 --hostname "$prefix-gateway" --network host --stop-timeout "$grace" "${common_env[@]}" \
  -e "MeshHook__Gateway__ApiKeys__0=$api_key" -e "ASPNETCORE_URLS=http://127.0.0.1:$gateway_port" \
  "$gateway_image" >/dev/null || finish "the gateway container could not start"
wait_ready "$gateway" "$prefix-gateway" 90 || finish "the gateway did not become ready"
note "gateway ready on $gateway"

slug=containers
definition=$(cat <<JSON
{"name": "container test", "definition": {
  "nodes": [
    {"id": "hook", "type": "webhook"},
    {"id": "prep", "type": "transform", "data": {"expression": "{n: trigger.body.n, w: trigger.body.w}"}},
    {"id": "pause", "type": "delay", "data": {"ms": 300}},
    {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "http://127.0.0.1:$peer_port/step?ms=600", "body": "steps.prep", "timeoutMs": 20000, "retry": {"maxAttempts": 3, "baseDelayMs": 200, "maxDelayMs": 1000}}},
    {"id": "done", "type": "transform", "data": {"expression": "steps.call.status"}}
  ],
  "edges": [
    {"source": "hook", "target": "prep"}, {"source": "prep", "target": "pause"},
    {"source": "pause", "target": "call"}, {"source": "call", "target": "done"}
  ]}}
JSON
)
published=$(curl -sS -o "$work/publish.json" -w '%{http_code}' -X PUT "$gateway/api/workflows/$slug" \
  -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' --data-binary "$definition")
[ "$published" = 201 ] || { cat "$work/publish.json"; echo; finish "publishing the workflow answered $published"; }
unauthorized=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$gateway/api/workflows/$slug" -H 'Content-Type: application/json' --data-binary "$definition")
[ "$unauthorized" = 401 ] || finish "publishing without the API key answered $unauthorized, not 401"
note "workflow '$slug' published through the gateway (201 with the key, 401 without)"

# The load: three clients, each sending one webhook after another (about 12/s in all) with its own Idempotency-Key.
# A 503 is retried after its Retry-After with the same key (up to 5 times); anything else that is not 202 fails.
# One line per outcome in load.log: epoch phase client n outcome(accepted|retry503|failed) http_code runId.
echo warmup >"$work/phase"
load_client() {
  local client=$1 n=0 key code phase tries wait_s run
  while [ ! -e "$work/stop" ]; do
    n=$((n + 1)); key=ct-$client-$n; tries=0
    phase=$(<"$work/phase")
    while :; do
      tries=$((tries + 1))
      code=$(curl -s -o "$work/body.$client" -D "$work/headers.$client" -w '%{http_code}' --max-time 30 -X POST \
        -H 'Content-Type: application/json' -H "Idempotency-Key: $key" --data "{\"n\": $n, \"w\": $client}" "$gateway/api/hooks/$slug")
      if [ "$code" = 202 ]; then
        run=$(sed -n 's/.*"runId":"\([^"]*\)".*/\1/p' "$work/body.$client")
        echo "$(date +%s.%N) $phase $client $n accepted $code $run" >>"$work/load.log"
        break
      fi
      wait_s=$(tr -d '\r' <"$work/headers.$client" | sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\)$/\1/p' | head -n 1)
      if [ "$code" = 503 ] && [ -n "$wait_s" ] && [ "$tries" -le 5 ]; then
        echo "$(date +%s.%N) $phase $client $n retry503 $code -" >>"$work/load.log"
        sleep "$wait_s"
        continue
      fi
      echo "$(date +%s.%N) $phase $client $n failed $code -" >>"$work/load.log"
      break
    done
    sleep 0.15
  done
}
: >"$work/load.log"
for client in 1 2 3; do
  load_client "$client" &
  load_pids+=($!)
done

# intake_counts PHASE_REGEX: "accepted A, 503-retried R, failed F"
intake_counts() {
  awk -v p="^($1)\$" '$2 ~ p { c[$5]++ } END { printf "accepted %d, 503 retried %d, failed %d", c["accepted"], c["retry503"], c["failed"] }' "$work/load.log"
}
intake_failed() { awk -v p="^($1)\$" '$2 ~ p && $5 == "failed"' "$work/load.log" | wc -l; }

# check_runs LABEL: waits until every run accepted so far is finished, then checks them all in Postgres:
# succeeded; seq 1..n; run_created first, exactly one terminal event and it is last; no step succeeded twice or
# started after its success; a step starts again only after a run_interrupted naming it, or across a hand-off
# before it showed any sign of running; every run_handed_off is followed at once by run_resumed; the peer received
# the call once per run (once more at most per recorded interruption of it). Prints the problems; 0 when none.
check_runs() {
  local label=$1 deadline unfinished total
  awk '$5 == "accepted" { print $7 }' "$work/load.log" | sort -u >"$work/ids.txt"
  total=$(wc -l <"$work/ids.txt")
  psql_q -c "CREATE TABLE IF NOT EXISTS ct_runs (run_id uuid PRIMARY KEY); CREATE TABLE IF NOT EXISTS ct_peer (key text);" \
    -c "TRUNCATE ct_runs; TRUNCATE ct_peer;" -c "\\copy ct_runs FROM '$work/ids.txt'" || return 1
  deadline=$(( $(date +%s) + 90 ))
  while :; do
    unfinished=$(psql_q -c "SELECT count(*) FROM ct_runs c LEFT JOIN workflow_runs r ON r.id = c.run_id WHERE r.status IS NULL OR r.status IN ('queued', 'running', 'paused')")
    [ "$unfinished" = 0 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "   $label: $unfinished of $total accepted runs did not finish within 90 s, e.g.:"
      psql_q -c "SELECT c.run_id, coalesce(r.status, 'no row'), coalesce(r.silo, '-') FROM ct_runs c LEFT JOIN workflow_runs r ON r.id = c.run_id WHERE r.status IS NULL OR r.status IN ('queued', 'running', 'paused') LIMIT 5" | sed 's/^/     /'
      return 1
    fi
    sleep 0.5
  done
  awk '{ print $2 }' "$work/peer.log" >"$work/peer-keys.txt"
  psql_q -c "\\copy ct_peer FROM '$work/peer-keys.txt'" || return 1
  psql_q -F ' ' >"$work/problems.txt" <<'SQL'
WITH ev AS (SELECT e.* FROM workflow_events e JOIN ct_runs c ON c.run_id = e.run_id),
per_run AS (
  SELECT run_id, count(*) n, min(seq) lo, max(seq) hi,
         count(*) FILTER (WHERE type IN ('run_completed', 'run_canceled')) terminals,
         max(seq) FILTER (WHERE type IN ('run_completed', 'run_canceled')) terminal_seq,
         min(seq) FILTER (WHERE type = 'run_created') created_seq
  FROM ev GROUP BY run_id),
starts AS (
  SELECT run_id, seq, payload->>'nodeId' node, lag(seq) OVER (PARTITION BY run_id, payload->>'nodeId' ORDER BY seq) prev
  FROM ev WHERE type = 'step_started'),
peer AS (SELECT key, count(*) n FROM ct_peer GROUP BY key)
SELECT 'not-succeeded', c.run_id::text, coalesce(r.status, 'no row') FROM ct_runs c LEFT JOIN workflow_runs r ON r.id = c.run_id WHERE r.status IS DISTINCT FROM 'succeeded'
UNION ALL SELECT 'no-history', c.run_id::text, '' FROM ct_runs c WHERE NOT EXISTS (SELECT 1 FROM per_run p WHERE p.run_id = c.run_id)
UNION ALL SELECT 'seq-gap', run_id::text, format('seq %s..%s for %s events', lo, hi, n) FROM per_run WHERE lo <> 1 OR hi <> n
UNION ALL SELECT 'not-created-first', run_id::text, format('run_created at %s', created_seq) FROM per_run WHERE created_seq IS DISTINCT FROM 1
UNION ALL SELECT 'terminal', run_id::text, format('%s terminal events, last at %s of %s', terminals, terminal_seq, hi) FROM per_run WHERE terminals <> 1 OR terminal_seq <> hi
UNION ALL SELECT 'succeeded-twice', run_id::text, payload->>'nodeId' FROM ev WHERE type = 'step_succeeded' GROUP BY run_id, payload->>'nodeId' HAVING count(*) > 1
UNION ALL SELECT 'started-after-success', s.run_id::text, s.node FROM starts s
  WHERE EXISTS (SELECT 1 FROM ev e WHERE e.run_id = s.run_id AND e.type = 'step_succeeded' AND e.payload->>'nodeId' = s.node AND e.seq < s.seq)
UNION ALL SELECT 'restarted-without-cause', s.run_id::text, format('%s at seq %s', s.node, s.seq) FROM starts s
  WHERE s.prev IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM ev e WHERE e.run_id = s.run_id AND e.seq > s.prev AND e.seq < s.seq AND e.type = 'run_interrupted' AND e.payload->>'nodeId' = s.node)
    AND NOT (EXISTS (SELECT 1 FROM ev e WHERE e.run_id = s.run_id AND e.seq > s.prev AND e.seq < s.seq AND e.type = 'run_handed_off')
             AND NOT EXISTS (SELECT 1 FROM ev e WHERE e.run_id = s.run_id AND e.seq > s.prev AND e.seq < s.seq AND e.payload->>'nodeId' = s.node
                             AND e.type IN ('http_attempted', 'step_succeeded', 'step_failed')))
UNION ALL SELECT 'handoff-not-resumed', h.run_id::text, format('run_handed_off at seq %s', h.seq) FROM ev h
  WHERE h.type = 'run_handed_off' AND NOT EXISTS (SELECT 1 FROM ev r WHERE r.run_id = h.run_id AND r.seq = h.seq + 1 AND r.type = 'run_resumed')
UNION ALL SELECT 'peer-calls', c.run_id::text, format('peer received %s call(s), %s interruption(s) of the call recorded', coalesce(p.n, 0), i.n)
  FROM ct_runs c LEFT JOIN peer p ON p.key = 'mh-' || c.run_id || '-call'
  CROSS JOIN LATERAL (SELECT count(*) n FROM ev e WHERE e.run_id = c.run_id AND e.type = 'run_interrupted' AND e.payload->>'nodeId' = 'call') i
  WHERE coalesce(p.n, 0) < 1 OR coalesce(p.n, 0) > 1 + i.n;
SQL
  [ $? -eq 0 ] || { echo "   $label: the history checks could not run"; return 1; }
  if [ -s "$work/problems.txt" ]; then
    echo "   $label: $(wc -l <"$work/problems.txt") problem(s) in the $total runs accepted so far, e.g.:"
    head -n 10 "$work/problems.txt" | sed 's/^/     /'
    return 1
  fi
  checked_runs=$total
  return 0
}

# The Orleans silo port in workflow_runs.silo / meshhook_shutdowns.silo_address ("S127.0.0.1:PORT:GENERATION").
silo_like() { echo "S%:$(silo_port "$1"):%"; }
running_on() { psql_q -c "SELECT count(*) FROM workflow_runs WHERE status = 'running' AND silo LIKE '$(silo_like "$1")'"; }
# wait_hosting SLOT MIN SECONDS: until the silo in SLOT holds at least MIN running runs; prints the count.
wait_hosting() {
  local deadline=$(( $(date +%s) + $3 )) n=0
  while [ "$(date +%s)" -lt "$deadline" ]; do
    n=$(running_on "$1")
    [ "$n" -ge "$2" ] && break
    sleep 0.2
  done
  echo "$n"
}

# stop_silo SLOT: podman stop -t GRACE; sets stop_ms (until podman stop returned), exit_ms (until the process ended),
# stop_exit, stop_from, stop_to (UTC timestamps).
stop_silo() {
  local slot=$1 name=${slot_container[$1]} t0
  stop_from=$(ts_utc); t0=$(now_ms)
  "${podman[@]}" stop -t "$grace" "$name" >/dev/null 2>&1
  stop_ms=$(( $(now_ms) - t0 )); stop_to=$(ts_utc)
  stop_exit=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name" 2>/dev/null || echo "?")
  # When the process itself ended, by the container's record (podman stop returns somewhat later).
  local finished
  finished=$("${podman[@]}" inspect --format '{{.State.FinishedAt}}' "$name" 2>/dev/null)
  finished=$(date -d "${finished% UTC}" +%s%3N 2>/dev/null) && exit_ms=$(( finished - t0 )) || exit_ms="?"
  "${podman[@]}" logs "$name" >"$work/logs/$name.log" 2>&1
}

# shutdown_row SLOT FROM: "forced duration_ms drain_ms hand_off_ms steps_completed steps_interrupted runs_handed_off"
shutdown_row() {
  psql_q -F ' ' -c "SELECT forced, duration_ms, drain_ms, hand_off_ms, steps_completed, steps_interrupted, runs_handed_off FROM meshhook_shutdowns
                   WHERE silo_address LIKE '$(silo_like "$1")' AND started_at >= '$2'::timestamptz - interval '2 seconds' ORDER BY started_at DESC LIMIT 1"
}

# handoff_latency SLOT FROM TO: "count p50_ms max_ms other_silo_count suspended_p50_ms suspended_max_ms" of the
# run_handed_off -> run_resumed pairs of that silo's stop: the time between the two events, how many resumed on
# another silo, and how long each run had been suspended in all (run_resumed's suspendedMs: from the moment the
# drain held its next step back to its resumption elsewhere).
handoff_latency() {
  psql_q -F ' ' -c "WITH h AS (
      SELECT e.run_id, e.ts AS off_ts, r.ts AS on_ts, r.payload->>'address' AS resumed_on, (r.payload->>'suspendedMs')::bigint AS suspended
      FROM workflow_events e JOIN workflow_events r ON r.run_id = e.run_id AND r.seq = e.seq + 1 AND r.type = 'run_resumed'
      WHERE e.type = 'run_handed_off' AND e.ts BETWEEN '$2'::timestamptz AND '$3'::timestamptz + interval '1 second')
    SELECT count(*), coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM on_ts - off_ts) * 1000))::int, 0),
           coalesce(round(max(extract(epoch FROM on_ts - off_ts) * 1000))::int, 0),
           count(*) FILTER (WHERE resumed_on NOT LIKE '$(silo_like "$1")'),
           coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY suspended))::int, 0), coalesce(max(suspended), 0)
    FROM h"
}

echo load >"$work/phase"
sleep 4
if [ "$(awk '$5 == "accepted"' "$work/load.log" | wc -l)" -eq 0 ]; then
  tail -n 5 "$work/load.log"
  finish "no webhook was accepted in the first 4 s"
fi
note "webhooks flowing: $(intake_counts 'warmup|load')"

# ---------------------------------------------------------------------------------------------------------------
# 3. scale out: a fourth silo joins and takes new runs
note "== 3. scale out: a fourth silo container joins"
echo scale-out >"$work/phase"
t0=$(now_ms)
if start_silo 4 && ready_silo 4 120; then
  ready_ms=$(( $(now_ms) - t0 )); joined=$(ts_utc)
  deadline=$(( $(date +%s) + 30 ))
  on_new=0
  while [ "$(date +%s)" -lt "$deadline" ]; do
    on_new=$(psql_q -c "SELECT count(*) FROM workflow_runs WHERE created_at > '$joined' AND silo LIKE '$(silo_like 4)'")
    [ "$on_new" -ge 5 ] && break
    sleep 0.5
  done
  spread=$(psql_q -F '=' -c "SELECT coalesce(nullif(split_part(silo, ':', 2), ''), 'none yet'), count(*) FROM workflow_runs WHERE created_at > '$joined' GROUP BY 1 ORDER BY 1" | tr '\n' ' ')
  if [ "$on_new" -ge 5 ] && check_runs scale-out; then
    verdict scale-out true "silo 4 ready ${ready_ms} ms after start; it ran $on_new new runs (runs since it joined, by silo port: $spread); all $checked_runs runs so far consistent"
  else
    verdict scale-out false "silo 4 ran $on_new new runs (want >= 5; by silo port: $spread), or the runs check failed (above)"
  fi
else
  verdict scale-out false "the fourth silo did not become ready"
fi

# ---------------------------------------------------------------------------------------------------------------
# 4. podman stop of one silo container running runs
note "== 4. stop one: podman stop -t $grace of silo 1 while it runs runs"
echo stop-one >"$work/phase"
# The program itself is PID 1 (exec-form ENTRYPOINT), as the unprivileged user: podman stop's SIGTERM reaches it.
pid1=$("${podman[@]}" top "${slot_container[1]}" pid user args 2>/dev/null | awk '$1 == 1 { $1 = ""; print substr($0, 2) }')
hosting=$(wait_hosting 1 2 30)
stop_silo 1
row=$(shutdown_row 1 "$stop_from")
read -r forced duration drain handoff completed interrupted handed <<<"${row:-- - - - - - -}"
read -r h_count h_p50 h_max h_elsewhere s_p50 s_max <<<"$(handoff_latency 1 "$stop_from" "$stop_to")"
figures_stop_one="stop-to-exit ${stop_ms} ms (process ended after ${exit_ms} ms), exit $stop_exit; it ran $hosting run(s) at SIGTERM; shutdown row: duration ${duration} ms (drain ${drain}, hand-off ${handoff}), steps completed $completed, interrupted $interrupted, runs handed off $handed, forced $forced; run_handed_off -> run_resumed: $h_count, p50 ${h_p50} ms, max ${h_max} ms, $h_elsewhere on another silo, suspended p50 ${s_p50} ms, max ${s_max} ms"
note "$figures_stop_one"
problems=()
case "$pid1" in *" dotnet /app/MeshHook.Silo.dll"*) ;; *) problems+=("PID 1 in the silo container is '$pid1', not dotnet /app/MeshHook.Silo.dll") ;; esac
case "$pid1" in root*|0*) problems+=("PID 1 runs as root: '$pid1'") ;; esac
[ "$hosting" -ge 2 ] || problems+=("silo 1 never held 2 running runs, so the stop proves nothing")
[ "$stop_exit" = 0 ] || problems+=("exit code $stop_exit, not 0")
[ "$stop_ms" -lt $((grace * 1000)) ] || problems+=("took ${stop_ms} ms, not within the ${grace} s grace period")
[ -n "$row" ] || problems+=("no meshhook_shutdowns row for silo 1")
[ "$forced" = f ] || problems+=("the shutdown row says forced=$forced")
[ "${handed:-0}" != - ] && [ "${handed:-0}" -gt 0 ] || problems+=("the shutdown row hands off no run")
[ "$h_count" -gt 0 ] && [ "$h_count" = "$h_elsewhere" ] || problems+=("$h_count run_handed_off -> run_resumed pairs, $h_elsewhere resumed on another silo")
check_runs stop-one || problems+=("the runs check failed (above)")
if [ ${#problems[@]} -eq 0 ]; then verdict stop-one true "PID 1: $pid1; $figures_stop_one; all $checked_runs runs so far consistent"
else verdict stop-one false "$(IFS='; '; echo "${problems[*]}")"; fi

# ---------------------------------------------------------------------------------------------------------------
# 5. rolling restart of every silo container, webhooks flowing
note "== 5. rolling restart of silos 2, 3, 4 (stop, start the replacement, wait ready, next)"
echo rolling >"$work/phase"
problems=()
rolling_figures=()
rolling_from=$(ts_utc)
for slot in 2 3 4; do
  hosting=$(wait_hosting "$slot" 1 20)
  old=${slot_container[$slot]}
  stop_silo "$slot"
  row=$(shutdown_row "$slot" "$stop_from")
  read -r forced duration drain handoff completed interrupted handed <<<"${row:-- - - - - - -}"
  read -r h_count h_p50 h_max h_elsewhere s_p50 s_max <<<"$(handoff_latency "$slot" "$stop_from" "$stop_to")"
  [ "$stop_exit" = 0 ] || problems+=("$old exit code $stop_exit")
  [ "$stop_ms" -lt $((grace * 1000)) ] || problems+=("$old took ${stop_ms} ms")
  [ "$forced" = f ] || problems+=("$old: shutdown row forced=$forced (or missing)")
  t0=$(now_ms)
  if start_silo "$slot" && ready_silo "$slot" 120; then ready_ms=$(( $(now_ms) - t0 ))
  else ready_ms=never; problems+=("${slot_container[$slot]} did not become ready"); fi
  line="silo $slot: $hosting running at SIGTERM, stop-to-exit ${stop_ms} ms (process ${exit_ms} ms, exit $stop_exit), hand-off ${handoff} ms, handed off $handed (resumed p50 ${h_p50} ms, max ${h_max} ms; suspended p50 ${s_p50} ms, max ${s_max} ms), replacement ready in ${ready_ms} ms"
  rolling_figures+=("$line")
  note "$line"
  sleep 2
done
sleep 2
rolling_intake=$(intake_counts rolling)
rolling_failed=$(intake_failed rolling)
handed_total=$(psql_q -c "SELECT coalesce(sum(runs_handed_off), 0) FROM meshhook_shutdowns WHERE started_at >= '$rolling_from'")
note "rolling restart intake: $rolling_intake"
[ "$rolling_failed" -eq 0 ] || problems+=("$rolling_failed webhook intake(s) failed: $(awk '$2 == "rolling" && $5 == "failed" { print "HTTP " $6 }' "$work/load.log" | sort | uniq -c | tr '\n' ' ')")
[ "$handed_total" -gt 0 ] || problems+=("no run was handed off during the rolling restart, so it proves nothing")
check_runs rolling || problems+=("the runs check failed (above)")
if [ ${#problems[@]} -eq 0 ]; then
  verdict rolling true "intake during the restart: $rolling_intake; $handed_total runs handed off; all $checked_runs runs so far consistent"
else
  verdict rolling false "$(IFS='; '; echo "${problems[*]}")"
fi

# ---------------------------------------------------------------------------------------------------------------
# 6. scale in: two silos stopped at once
note "== 6. scale in: silos 2 and 3 stopped at once (silo 4 stays)"
echo scale-in >"$work/phase"
problems=()
wait_hosting 2 1 15 >/dev/null
scalein_from=$(ts_utc)
( stop_silo 2; echo "$stop_ms $stop_exit $exit_ms" >"$work/stop.2" ) &
stopping_2=$!
( stop_silo 3; echo "$stop_ms $stop_exit $exit_ms" >"$work/stop.3" ) &
stopping_3=$!
wait "$stopping_2" "$stopping_3"
scalein_to=$(ts_utc)
scalein_figures=()
for slot in 2 3; do
  read -r ms code process_ms <"$work/stop.$slot" || { ms=-; code=-; process_ms=-; }
  row=$(shutdown_row "$slot" "$scalein_from")
  read -r forced duration drain handoff completed interrupted handed <<<"${row:-- - - - - - -}"
  [ "$code" = 0 ] || problems+=("silo $slot exit code $code")
  [ "$ms" != - ] && [ "$ms" -lt $((grace * 1000)) ] || problems+=("silo $slot took ${ms} ms")
  [ "$forced" = f ] || problems+=("silo $slot: shutdown row forced=$forced (or missing)")
  scalein_figures+=("silo $slot stop-to-exit ${ms} ms (process ${process_ms} ms, exit $code), hand-off ${handoff} ms, handed off $handed")
done
read -r h_count h_p50 h_max h_elsewhere s_p50 s_max <<<"$(handoff_latency 2 "$scalein_from" "$scalein_to")"
note "scale in: $(IFS=';'; echo "${scalein_figures[*]}"); run_handed_off -> run_resumed: $h_count, p50 ${h_p50} ms, max ${h_max} ms; suspended p50 ${s_p50} ms, max ${s_max} ms"
sleep 2
check_runs scale-in || problems+=("the runs check failed (above)")
if [ ${#problems[@]} -eq 0 ]; then
  verdict scale-in true "$(IFS=';'; echo "${scalein_figures[*]}"); resumed p50 ${h_p50} ms, max ${h_max} ms (suspended p50 ${s_p50} ms, max ${s_max} ms); all $checked_runs runs so far consistent"
else
  verdict scale-in false "$(IFS='; '; echo "${problems[*]}")"
fi

# ---------------------------------------------------------------------------------------------------------------
# 2 (checked last). Every webhook of the whole test: accepted, and its run finished consistently.
touch "$work/stop"
wait "${load_pids[@]}" 2>/dev/null
load_pids=()
note "load stopped: $(intake_counts '.*')"
problems=()
all_failed=$(intake_failed '.*')
[ "$all_failed" -eq 0 ] || problems+=("$all_failed webhook intake(s) failed")
check_runs all || problems+=("the runs check failed (above)")
retried=$(awk '$5 == "retry503"' "$work/load.log" | wc -l)
if [ ${#problems[@]} -eq 0 ]; then
  verdict webhooks true "$checked_runs runs accepted through the gateway container, all succeeded with gap-free histories, no checkpointed step repeated, the peer called once per run; intake: $(intake_counts '.*')"
else
  verdict webhooks false "$(IFS='; '; echo "${problems[*]}")"
fi

echo
echo "== figures"
echo "  stop one:  $figures_stop_one"
for line in "${rolling_figures[@]}"; do echo "  rolling:   $line"; done
echo "  rolling restart intake: $rolling_intake"
for line in "${scalein_figures[@]}"; do echo "  scale in:  $line"; done
echo "  images: $images_seconds s (base $base_used)"
echo "  silo starts repeated because a port was taken before the silo could bind it: $port_collisions"
finish "an earlier step failed"
