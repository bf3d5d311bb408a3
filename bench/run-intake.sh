#!/usr/bin/env bash
# Intake benchmark (see docs/benchmarks.md, "Intake"): the real gateway and real silo processes, webhooks at a steady
# rate, 202 latency p50/p99 without and with a silo draining. Options pass through, e.g.
#   bench/run-intake.sh --rate 100 --duration 20s --silos 2 --drain-at 5s --rounds 1
# Builds the bench, the silo and the gateway in Release, starts a throwaway Postgres with default durability via
# scripts/pg.sh unless ConnectionStrings__MeshHook is set; the program stops every process it started, on Ctrl-C too.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The bench process (load generator, sink) shares the cores with the silos, the gateway and Postgres: workstation GC.
export DOTNET_gcServer=0
dotnet build -c Release bench/MeshHook.Bench/MeshHook.Bench.csproj -v quiet -nologo >&2
exec dotnet bench/MeshHook.Bench/bin/Release/net10.0/MeshHook.Bench.dll intake "$@"
