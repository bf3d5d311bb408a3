#!/usr/bin/env bash
# Scale-in benchmark (see docs/benchmarks.md, "Scale-in"): real silo processes, real SIGTERM and SIGKILL. Options pass through, e.g.
#   bench/run-scalein.sh --runs 1000 --silos 3 --rounds 2
# Builds the bench and the silo in Release, starts a throwaway Postgres with default durability via scripts/pg.sh unless
# ConnectionStrings__MeshHook is set; the program stops every process it started, on Ctrl-C too.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The bench process (sink, client) shares the cores with three silos and Postgres: workstation GC, as the silos get.
export DOTNET_gcServer=0
dotnet build -c Release bench/MeshHook.Bench/MeshHook.Bench.csproj -v quiet -nologo >&2
exec dotnet bench/MeshHook.Bench/bin/Release/net10.0/MeshHook.Bench.dll scalein "$@"
