#!/usr/bin/env bash
# Durable throughput benchmark (see docs/benchmarks.md). Options pass through, e.g.
#   bench/run-throughput.sh --duration 20s --concurrency 1,16,64 --rounds 3 --silos 2
# Starts a throwaway Postgres with default durability via scripts/pg.sh unless ConnectionStrings__MeshHook is set;
# the program stops everything it started, on Ctrl-C too.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build -c Release bench/MeshHook.Bench/MeshHook.Bench.csproj -v quiet -nologo >&2
exec dotnet bench/MeshHook.Bench/bin/Release/net10.0/MeshHook.Bench.dll throughput "$@"
