#!/usr/bin/env bash
# Tests of @meshhook/engine-client, ending with the plain count
#   tests: N passed, M failed
# 1. npm ci (the exact versions of package-lock.json), then tsc --strict --noEmit over the package and its tests, the
#    build (dist/), and tsc --strict --noEmit over the SvelteKit example (examples/sveltekit) against dist/;
# 2. node --test: the client's rules against a local server, the signature helper, the checked-in schema against
#    openapi/v1.json, and the client against the REAL programs (Silo/ and Gateway/ Release builds, started with dotnet
#    as child processes on free ports, a fresh database on the Postgres of ConnectionStrings__MeshHook).
# Needs Node 20+ and npm (installed from Debian's packages when missing, as root) and the .NET SDK. Without
# ConnectionStrings__MeshHook it starts a throwaway Postgres (scripts/pg.sh) and stops it again. Builds the solution
# when the programs are not built. MESHHOOK_TS_PORTS=40200-40299 picks the programs' ports from that range.
set -uo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)

fail() {
  echo "clients/typescript/test.sh: $*" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || fail "Node.js 20+ and npm are required: sudo apt-get install -y nodejs npm"
  echo "== installing Node.js and npm from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq nodejs npm; } >&2 || fail "could not install nodejs and npm"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js 20 or later is required (found $(node --version))"

echo "== npm ci (node $(node --version), npm $(npm --version))"
npm ci --no-audit --no-fund --loglevel=error >/dev/null || fail "npm ci failed"

echo "== tsc --strict --noEmit (package and tests), npm run build, tsc --strict --noEmit (SvelteKit example on dist/)"
npx tsc -p tsconfig.json --strict --noEmit || fail "the package or its tests do not type-check"
rm -rf dist
npm run build --silent || fail "npm run build failed"
# The example imports the package by its name, so it is checked against dist/ as an app would see it.
npx tsc -p examples/sveltekit/tsconfig.json --strict --noEmit || fail "the SvelteKit example does not type-check"
rm -rf .build
npx tsc -p tsconfig.json --outDir .build --noCheck || fail "could not compile the tests"

if [ ! -f "$root/Silo/bin/Release/net10.0/MeshHook.Silo.dll" ] || [ ! -f "$root/Gateway/bin/Release/net10.0/MeshHook.Gateway.dll" ]; then
  echo "== building the silo and the gateway"
  (cd "$root" && dotnet build MeshHook.Silo.sln -c Release -v quiet -nologo) || fail "the build failed"
fi

pg_dir=""
node_pid=""
out=$(mktemp -t meshhook-tsclient.XXXXXX)
export MESHHOOK_TS_LOGS
MESHHOOK_TS_LOGS=$(mktemp -d -t meshhook-tsclient-logs.XXXXXX)
cleanup() {
  # node kills the programs it started when it ends; this also covers a node killed itself.
  [ -n "$node_pid" ] && kill -KILL -- "-$node_pid" 2>/dev/null
  if [ -n "$pg_dir" ]; then "$root/scripts/pg.sh" stop "$pg_dir"; rm -rf "$pg_dir"; fi
  rm -f "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${ConnectionStrings__MeshHook:-}" ]; then
  "$root/scripts/pg.sh" install || fail "could not install PostgreSQL"
  pg_dir=$(mktemp -d -t meshhook-tsclient-pg.XXXXXX)
  ConnectionStrings__MeshHook=$(PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off" \
    "$root/scripts/pg.sh" start "$pg_dir" "${MESHHOOK_TS_PG_PORT:-55992}") || fail "could not start a throwaway Postgres"
  export ConnectionStrings__MeshHook
fi

echo "== node --test"
# Its own process group, so that whatever it leaves behind can be killed as one.
setsid node --test --test-concurrency=1 --test-reporter=spec "$here"/.build/test/*.test.js > >(tee "$out") 2>&1 &
node_pid=$!
wait "$node_pid"
status=$?
sleep 0.2 # let tee finish writing
# The spec reporter ends with "ℹ pass N", "ℹ fail N", "ℹ cancelled N".
count() { grep -E "^[^ ]+ $1 [0-9]+$" "$out" | tail -n 1 | grep -oE "[0-9]+$" || echo 0; }
passed=$(count pass)
failed=$(( $(count fail) + $(count cancelled) ))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "clients/typescript/test.sh: node --test exited $status" >&2
  failed=1
fi
if [ "$failed" -eq 0 ]; then
  rm -rf "$MESHHOOK_TS_LOGS"
else
  echo "the programs' logs are kept in $MESHHOOK_TS_LOGS"
fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
