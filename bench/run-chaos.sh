#!/usr/bin/env bash
# Chaos soak (see docs/reliability.md): the whole system under load while processes are terminated at random, seeded.
#   bench/run-chaos.sh --minutes N [--silos 3] [--seed S] [--rate 6] [--settle 180s]    real processes, real signals
#   bench/run-chaos.sh --in-process --stops N [--silos 3] [--seed S]                     in-process silos, the same stop path
# Builds the bench, the silo and the gateway in Release. Always starts its own throwaway Postgres with default durability
# (it restarts and stops that server), whatever ConnectionStrings__MeshHook says. Exits non-zero when an invariant fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The bench process (peer, load) shares the cores with the silos, the gateway and Postgres: workstation GC.
export DOTNET_gcServer=0
scripts/pg.sh install >&2
dotnet build -c Release bench/MeshHook.Bench/MeshHook.Bench.csproj -v quiet -nologo >&2
exec dotnet bench/MeshHook.Bench/bin/Release/net10.0/MeshHook.Bench.dll chaos "$@"
