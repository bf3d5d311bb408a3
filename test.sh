#!/usr/bin/env bash
# Runs every test (unit, integration on a real Postgres, process-level) and ends with the plain count
#   tests: N passed, N failed
# Needs the .NET 10 SDK. Installs PostgreSQL from Debian's packages when initdb is missing, and starts a
# throwaway server unless ConnectionStrings__MeshHook is set.
set -uo pipefail
cd "$(dirname "$0")"
root=$(pwd)
log=$(mktemp -t meshhook-test.XXXXXX)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

finish() {
  local passed=$1 failed=$2
  echo "tests: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit $?
}

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET SDK (dotnet) is required" >&2
  finish 0 1
fi

pg_dir=""
if [ -z "${ConnectionStrings__MeshHook:-}" ]; then
  scripts/pg.sh install || finish 0 1
  pg_port=${MESHHOOK_TEST_PG_PORT:-55990}
  pg_dir=$(mktemp -d -t meshhook-test-pg.XXXXXX)
  # Durability settings off: the tests kill silos, not Postgres, and this halves their time.
  if ! ConnectionStrings__MeshHook=$(PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" scripts/pg.sh start "$pg_dir" "$pg_port"); then
    echo "test.sh: could not start a throwaway Postgres" >&2
    finish 0 1
  fi
  export ConnectionStrings__MeshHook
  trap 'scripts/pg.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
fi

if ! dotnet build MeshHook.Silo.sln -c Release 2>&1 | tee "$log" | grep -E "error|warn" | grep -v "0 Warning\|0 Error"; then :; fi
if ! grep -q "Build succeeded" "$log" || grep -qE "[1-9][0-9]* Warning\(s\)|[1-9][0-9]* Error\(s\)" "$log"; then
  echo "test.sh: the build failed or printed warnings" >&2
  finish 0 1
fi

dotnet test --solution MeshHook.Silo.sln -c Release --no-build 2>&1 | tee "$log"
passed=$(grep -E "^\s+succeeded: [0-9]+" "$log" | tail -n 1 | grep -oE "[0-9]+" || echo 0)
failed=$(grep -E "^\s+failed: [0-9]+" "$log" | tail -n 1 | grep -oE "[0-9]+" || echo 0)
if ! grep -q "Test run summary" "$log"; then
  echo "test.sh: the test run did not complete" >&2
  failed=$((failed + 1))
fi
rm -f "$log"

# Suites with a script of their own, each ending with its own line `tests: N passed, N failed`, added to the totals
# (without that line the suite counts as one failure). Their output is shown, each line prefixed with the suite's name.
suite() {
  local name=$1; shift
  local out last
  out=$(mktemp -t meshhook-suite.XXXXXX)
  echo "$name: $*"
  "$@" 2>&1 | tee "$out" | sed "s/^/  [$name] /"
  last=$(tail -n 1 "$out")
  if [[ "$last" =~ ^tests:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
  else
    echo "$name: it ended without its result line; counted as one failure"
    failed=$((failed + 1))
  fi
  rm -f "$out"
}

# The TypeScript client (clients/typescript): npm ci, tsc --strict, then node --test against real silos and a real
# gateway. Node.js and npm are required; its script installs them from Debian's packages when missing.
suite typescript clients/typescript/test.sh
# The container test: images built from the project's Dockerfiles, silo and gateway containers run with podman
# (installed from Debian's packages when missing), its own Postgres; see tests/Containers/run.sh.
suite containers tests/Containers/run.sh

# The chaos soak, short: each run is one test (its own throwaway Postgres, which it restarts; see docs/reliability.md).
# A fixed seed, so a failure here replays with the same command.
chaos() {
  local name=$1; shift
  local out
  out=$(mktemp -t meshhook-chaos.XXXXXX)
  echo "chaos soak ($name): bench/run-chaos.sh $*"
  if bench/run-chaos.sh "$@" >"$out" 2>&1; then
    passed=$((passed + 1))
    sed -n '/^-----\|^== /,$p' "$out"
  else
    failed=$((failed + 1))
    echo "chaos soak ($name) FAILED; its output:"
    cat "$out"
  fi
  rm -f "$out"
}
chaos process --minutes 2 --seed 20261202
chaos in-process --in-process --stops 200 --seed 20261202
finish "${passed:-0}" "${failed:-0}"
