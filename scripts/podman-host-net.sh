#!/usr/bin/env bash
# A `podman` for podman-compose 1.0.3 (Debian 12) with compose.yaml's host networking:
#   podman-compose --podman-path scripts/podman-host-net.sh up -d
# That podman-compose passes `--network host` (network_mode) and also `--net PROJECT_default --network-alias SERVICE`
# to `podman run`, which podman refuses ("cannot set multiple networks without bridge network mode"). This drops the
# second pair when the first is there and runs podman with the rest unchanged. Later podman-compose releases and
# docker compose need none of it.
set -euo pipefail
args=("$@")
if [[ " ${args[*]} " == *" --network host "* ]]; then
  kept=()
  skip=0
  for arg in "${args[@]}"; do
    if [ "$skip" -gt 0 ]; then
      skip=$((skip - 1))
      continue
    fi
    case "$arg" in
      --net|--network-alias) skip=1 ;;
      *) kept+=("$arg") ;;
    esac
  done
  args=("${kept[@]}")
fi
exec podman "${args[@]}"
