#!/usr/bin/env bash
# Builds the container images of MeshHook from the project's own Dockerfiles:
#   localhost/meshhook-silo:dev     (Silo/Dockerfile)
#   localhost/meshhook-gateway:dev  (Gateway/Dockerfile)
#
#   scripts/images.sh [--base IMAGE] [--local-base] [--rebuild-base] [--no-publish] [--engine podman|docker]
#     --base IMAGE     the runtime base image to build on (default: the official mcr.microsoft.com/dotnet/aspnet:10.0)
#     --local-base     do not try the official image: build (or reuse) the local base image described below
#     --rebuild-base   remove the cached local base image and build it again
#     --no-publish     use the existing publish output (Silo|Gateway/bin/Release/net10.0/publish) as it is
#     --engine E       podman or docker (default: podman if installed, else docker if its engine answers,
#                      else podman installed from Debian's packages)
#
# Steps: 1. `dotnet publish -c Release` of both programs on the host (a restore inside a build container fails
# behind a TLS proxy with its own CA; see the comment in the Dockerfiles for the multi-stage way).
# 2. The base image: the official one if present or pullable (MESHHOOK_PULL_TIMEOUT seconds, default 30);
# otherwise a local one, localhost/meshhook-base:aspnet-<version>-bookworm, made once and reused: a Debian
# bookworm root file system (debootstrap --variant=minbase, with the runtime's libraries: libicu72, libssl3,
# zlib1g, tzdata, ca-certificates) plus the ASP.NET Core runtime copied from the .NET SDK installed here, with
# the official image's user "app" (1654). The cache is keyed on the runtime's version.
# 3. `build` of both images with BASE_IMAGE set to that base.
#
# As root on Debian it installs what is missing from Debian's packages (podman, runc, debootstrap). Podman is run
# with `--runtime runc` when runc is installed (crun refuses hybrid cgroup set-ups). Where the process lacks
# CAP_SYS_RESOURCE, podman's default rlimits cannot be applied: `default_ulimits = []` is written to
# containers.conf (/etc/containers/containers.conf as root). Nothing secret and no CA goes into an image.
set -euo pipefail
cd "$(dirname "$0")/.."

silo_tag=localhost/meshhook-silo:dev
gateway_tag=localhost/meshhook-gateway:dev
official_base=mcr.microsoft.com/dotnet/aspnet:10.0
base=""
local_base=false
rebuild_base=false
publish=true
engine_name=""

say() { echo "images.sh: $*" >&2; }
die() { echo "images.sh: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=${2:?--base needs an image name}; shift 2 ;;
    --local-base) local_base=true; shift ;;
    --rebuild-base) rebuild_base=true; local_base=true; shift ;;
    --no-publish) publish=false; shift ;;
    --engine) engine_name=${2:?--engine needs podman or docker}; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "images.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$engine_name" in ''|podman|docker) ;; *) die "--engine must be podman or docker, not '$engine_name'" ;; esac
if [ -n "$base" ] && [ "$local_base" = true ]; then die "--base and --local-base/--rebuild-base exclude each other"; fi

apt_updated=false
apt_install() {
  # Installs Debian packages (root only); each argument is "command:package".
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing ${missing[*]}; install them (Debian: sudo apt-get install -y ${missing[*]}) or run this as root on Debian"
  fi
  say "installing ${missing[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = false ]; then
    apt-get update -qq >&2 || die "apt-get update failed"
    apt_updated=true
  fi
  local log
  log=$(mktemp -t meshhook-apt.XXXXXX)
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "apt-get install ${missing[*]} failed (output above)"
  fi
  rm -f "$log"
}

has_cap_sys_resource() {
  local eff
  eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status 2>/dev/null || true)
  [ -n "$eff" ] || return 0
  # CAP_SYS_RESOURCE is capability 24.
  [ $(( (16#$eff >> 24) & 1 )) -eq 1 ]
}

configure_podman() {
  has_cap_sys_resource && return 0
  local conf
  if [ "$(id -u)" -eq 0 ]; then conf=/etc/containers/containers.conf; else conf=${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf; fi
  if [ -f "$conf" ] && grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=' "$conf"; then return 0; fi
  say "this process lacks CAP_SYS_RESOURCE, so podman's default rlimits would be refused: writing default_ulimits = [] to $conf"
  mkdir -p "$(dirname "$conf")"
  if [ -f "$conf" ] && grep -Eq '^[[:space:]]*\[containers\][[:space:]]*$' "$conf"; then
    sed -i '/^[[:space:]]*\[containers\][[:space:]]*$/a default_ulimits = []' "$conf"
  else
    printf '[containers]\ndefault_ulimits = []\n' >>"$conf"
  fi
}

# The container engine, as an array: "podman --runtime runc" or "docker".
engine=()
choose_engine() {
  if [ -z "$engine_name" ]; then
    if command -v podman >/dev/null 2>&1; then engine_name=podman
    elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then engine_name=docker
    else engine_name=podman
    fi
  fi
  if [ "$engine_name" = docker ]; then
    command -v docker >/dev/null 2>&1 || die "docker is not installed"
    docker info >/dev/null 2>&1 || die "docker is installed but its engine does not answer (docker info failed); use --engine podman"
    engine=(docker)
    return 0
  fi
  apt_install podman:podman runc:runc
  configure_podman
  engine=(podman)
  command -v runc >/dev/null 2>&1 && engine+=(--runtime runc)
  "${engine[@]}" info >/dev/null 2>&1 || die "podman does not work here: $("${engine[@]}" info 2>&1 | tail -n 3)"
}

image_exists() { "${engine[@]}" image inspect "$1" >/dev/null 2>&1; }

# The newest ASP.NET Core 10 runtime of the installed SDK: "VERSION DOTNET_ROOT".
find_runtime() {
  command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is required"
  local line version dir
  line=$(dotnet --list-runtimes | awk '$1 == "Microsoft.AspNetCore.App" && $2 ~ /^10\./' | sort -V -k2,2 | tail -n 1)
  [ -n "$line" ] || die "no Microsoft.AspNetCore.App 10.x runtime in 'dotnet --list-runtimes'"
  version=$(echo "$line" | awk '{print $2}')
  dir=$(echo "$line" | sed -n 's/.*\[\(.*\)\/shared\/Microsoft.AspNetCore.App\]$/\1/p')
  [ -d "$dir/shared/Microsoft.NETCore.App/$version" ] || die "Microsoft.NETCore.App $version not found beside Microsoft.AspNetCore.App in $dir"
  echo "$version $dir"
}

# Makes (or reuses) localhost/meshhook-base:aspnet-VERSION-bookworm and prints its name.
prepare_local_base() {
  local runtime version root tag work rootfs fxr mirror
  runtime=$(find_runtime)
  version=${runtime%% *}
  root=${runtime#* }
  tag=localhost/meshhook-base:aspnet-$version-bookworm
  if [ "$rebuild_base" = true ] && image_exists "$tag"; then
    say "removing the cached base image $tag"
    "${engine[@]}" rmi -f "$tag" >/dev/null
  fi
  if image_exists "$tag"; then
    say "reusing the local base image $tag"
    echo "$tag"
    return 0
  fi
  apt_install debootstrap:debootstrap
  [ "$(id -u)" -eq 0 ] || die "building the local base image needs root (debootstrap); or pass --base IMAGE"
  mirror=${MESHHOOK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  work=$(mktemp -d /var/tmp/meshhook-base.XXXXXX)
  rootfs=$work/rootfs
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  say "building the local base image $tag: debootstrap bookworm from $mirror (about a minute)"
  if ! debootstrap --variant=minbase --include=libicu72,libssl3,zlib1g,tzdata,ca-certificates bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    die "debootstrap failed (log above); set MESHHOOK_DEBIAN_MIRROR to a reachable Debian mirror, or pass --base IMAGE"
  fi
  say "adding the ASP.NET Core runtime $version from $root"
  fxr=$(ls -d "$root"/host/fxr/* | sort -V | tail -n 1)
  mkdir -p "$rootfs/usr/share/dotnet/shared" "$rootfs/usr/share/dotnet/host/fxr"
  cp -a "$root/dotnet" "$rootfs/usr/share/dotnet/"
  cp -a "$fxr" "$rootfs/usr/share/dotnet/host/fxr/"
  for framework in Microsoft.NETCore.App Microsoft.AspNetCore.App; do
    mkdir -p "$rootfs/usr/share/dotnet/shared/$framework"
    cp -a "$root/shared/$framework/$version" "$rootfs/usr/share/dotnet/shared/$framework/"
  done
  for notice in LICENSE.txt ThirdPartyNotices.txt; do
    [ -f "$root/$notice" ] && cp "$root/$notice" "$rootfs/usr/share/dotnet/"
  done
  ln -sf /usr/share/dotnet/dotnet "$rootfs/usr/bin/dotnet"
  # The official image's unprivileged user: app, uid and gid 1654, home /home/app.
  grep -q '^app:' "$rootfs/etc/group" || echo 'app:x:1654:' >>"$rootfs/etc/group"
  grep -q '^app:' "$rootfs/etc/passwd" || echo 'app:x:1654:1654::/home/app:/bin/sh' >>"$rootfs/etc/passwd"
  mkdir -p "$rootfs/home/app"
  chown 1654:1654 "$rootfs/home/app"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  say "importing $tag"
  tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
    "${engine[@]}" import -q \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV DOTNET_ROOT=/usr/share/dotnet' \
      --change "ENV DOTNET_VERSION=$version" \
      --change "ENV ASPNET_VERSION=$version" \
      --change 'ENV APP_UID=1654' \
      --change 'ENV DOTNET_RUNNING_IN_CONTAINER=true' \
      --change "LABEL org.opencontainers.image.description=\"Debian bookworm minbase + ASP.NET Core runtime $version (local stand-in for $official_base)\"" \
      --change 'CMD ["/bin/bash"]' \
      - "$tag" >/dev/null || die "importing the base image failed"
  rm -rf "$work"
  trap - EXIT
  echo "$tag"
}

choose_base() {
  if [ -n "$base" ]; then
    image_exists "$base" || "${engine[@]}" pull "$base" >&2 || die "the base image $base is neither present nor pullable"
    return 0
  fi
  if [ "$local_base" = false ]; then
    if image_exists "$official_base"; then base=$official_base; return 0; fi
    # A local base exists only because the official image could not be had before: reuse it without trying again.
    local cached
    cached=$("${engine[@]}" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep '^localhost/meshhook-base:' | head -n 1 || true)
    if [ -z "$cached" ]; then
      say "trying to pull $official_base (at most ${MESHHOOK_PULL_TIMEOUT:-30} s)"
      if timeout "${MESHHOOK_PULL_TIMEOUT:-30}" "${engine[@]}" pull -q "$official_base" >/dev/null 2>&1; then
        base=$official_base
        return 0
      fi
      say "$official_base cannot be pulled here: using a local base image instead"
    fi
  fi
  base=$(prepare_local_base)
}

publish_programs() {
  command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is required"
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  local project name log
  log=$(mktemp -t meshhook-publish.XXXXXX)
  for project in Silo/MeshHook.Silo.csproj Gateway/MeshHook.Gateway.csproj; do
    name=$(dirname "$project")
    say "dotnet publish $project -c Release"
    rm -rf "$name/bin/Release/net10.0/publish"
    if ! dotnet publish "$project" -c Release -p:UseAppHost=false -nologo -v quiet >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      die "dotnet publish $project failed (output above)"
    fi
  done
  rm -f "$log"
}

check_published() {
  local dll
  for dll in Silo/bin/Release/net10.0/publish/MeshHook.Silo.dll Gateway/bin/Release/net10.0/publish/MeshHook.Gateway.dll; do
    [ -f "$dll" ] || die "$dll is missing: run without --no-publish"
  done
}

build_image() {
  local dockerfile=$1 tag=$2
  local pull=()
  [ "${engine[0]}" = podman ] && pull=(--pull=never)
  local previous current
  previous=$("${engine[@]}" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  say "building $tag from $dockerfile on $base"
  "${engine[@]}" build -q "${pull[@]}" -f "$dockerfile" --build-arg "BASE_IMAGE=$base" -t "$tag" . >/dev/null ||
    die "building $tag from $dockerfile failed"
  current=$("${engine[@]}" image inspect --format '{{.Id}}' "$tag")
  # The image this tag named before, now untagged: removed unless a container still uses it.
  if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    "${engine[@]}" rmi "$previous" >/dev/null 2>&1 || true
  fi
}

started=$(date +%s)
choose_engine
if [ "$publish" = true ]; then publish_programs; fi
check_published
choose_base
build_image Silo/Dockerfile "$silo_tag"
build_image Gateway/Dockerfile "$gateway_tag"
say "built $silo_tag and $gateway_tag on $base with ${engine[*]} in $(( $(date +%s) - started )) s"
