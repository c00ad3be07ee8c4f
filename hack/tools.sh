#!/usr/bin/env bash
# Builds the pinned third-party tools the sandbox and the generators need into ./bin.
#
# Each tool is built once per version into a per-user cache (like envtest's asset cache):
#   ${KARPENTER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-karpenter/tools}/<name>-<version>/
# and ./bin/<binary> is a symlink into it, so a fresh clone links instead of rebuilding.
# Sources come only from the Go module proxy.
set -euo pipefail

ETCD_VERSION=v3.6.16
KUBE_VERSION=v1.37.2
KUBE_STAGING_VERSION=v0.37.2
KWOK_VERSION=v0.8.0
CONTROLLER_TOOLS_VERSION=v0.20.1
TFPLUGINDOCS_VERSION=v0.25.0
OPENTOFU_VERSION=v1.12.6
GOLANGCI_LINT_VERSION=v2.15.0

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
cache="${KARPENTER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-karpenter/tools}"
mkdir -p "$bin" "$cache"

log() { printf '[tools] %s\n' "$*" >&2; }

# link NAME VERSION BINARY...: symlink cached binaries into ./bin; returns 1 if any is missing.
link() {
  local dir="$cache/$1-$2/bin"; shift 2
  local b
  for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
  for b in "$@"; do ln -sfn "$dir/$b" "$bin/$b"; done
}

build_etcd() {
  local key=etcd-$ETCD_VERSION
  link etcd "$ETCD_VERSION" etcd && return
  log "building etcd $ETCD_VERSION (first time only)"
  local w; w=$(mktemp -d)
  cat > "$w/go.mod" <<MOD
module local/etcd-wrapper

go 1.26

require (
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
)
MOD
  cat > "$w/tools.go" <<'SRC'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
SRC
  (cd "$w" && GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
   mkdir -p "$cache/$key/bin"
   GOFLAGS=-mod=mod go build -trimpath -o "$cache/$key/bin/etcd.tmp" go.etcd.io/etcd/server/v3 &&
   mv "$cache/$key/bin/etcd.tmp" "$cache/$key/bin/etcd")
  rm -rf "$w"
  link etcd "$ETCD_VERSION" etcd
}

build_kube() {
  # "-v2": built with the release's version stamped in (kubectl version, /version).
  local key=kubernetes-$KUBE_VERSION-v2
  link kubernetes "$KUBE_VERSION-v2" kube-apiserver kube-controller-manager kube-scheduler && return
  log "building kube-apiserver, kube-controller-manager, kube-scheduler $KUBE_VERSION (first time only, ~20 min on 2 cores)"
  local w; w=$(mktemp -d)
  local modfile
  modfile=$(cd "$w" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  {
    printf 'module local/kube-wrapper\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBE_VERSION"
    sed -n '/^replace (/,/^)/p' "$modfile" | grep '=> ./staging/' | awk -v v="$KUBE_STAGING_VERSION" '{print "\t" $1 " => " $1 " " v}'
    printf ')\n'
  } > "$w/go.mod"
  cat > "$w/tools.go" <<'SRC'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
SRC
  (cd "$w" && GOFLAGS=-mod=mod go mod tidy >/dev/null
   mkdir -p "$cache/$key/bin" "$w/out"
   # One build for all three shares the compilation of their common packages.
   local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
   local pkg=k8s.io/component-base/version
   local ldflags="-X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
   GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$w/out/" k8s.io/kubernetes/cmd/kube-apiserver \
     k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
   for c in kube-apiserver kube-controller-manager kube-scheduler; do mv "$w/out/$c" "$cache/$key/bin/$c"; done)
  rm -rf "$w"
  link kubernetes "$KUBE_VERSION-v2" kube-apiserver kube-controller-manager kube-scheduler
}

# go_install NAME VERSION PACKAGE BINARY: `go install` into the cache.
go_install() {
  link "$1" "$2" "$4" && return
  log "building $4 $2 (first time only)"
  mkdir -p "$cache/$1-$2/bin"
  GOBIN="$cache/$1-$2/bin" GOFLAGS= go install "$3@$2"
  link "$1" "$2" "$4"
}

# terraform: the one on PATH (this machine kind ships 1.11). Without one, build OpenTofu (a
# drop-in terraform CLI) with a wrapper module that copies OpenTofu's own replace line for
# hashicorp/hcl/v2, and link it as ./bin/terraform.
build_terraform() {
  if command -v terraform >/dev/null 2>&1 && [ "$(command -v terraform)" != "$bin/terraform" ]; then
    return
  fi
  local key=opentofu-$OPENTOFU_VERSION
  link opentofu "$OPENTOFU_VERSION" tofu && { ln -sfn "$cache/$key/bin/tofu" "$bin/terraform"; return; }
  log "no terraform on PATH: building OpenTofu $OPENTOFU_VERSION (first time only)"
  local w; w=$(mktemp -d)
  local modfile
  modfile=$(cd "$w" && GOFLAGS= go mod download -json "github.com/opentofu/opentofu@$OPENTOFU_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  {
    printf 'module local/opentofu-wrapper\n\ngo 1.26\n\nrequire github.com/opentofu/opentofu %s\n\n' "$OPENTOFU_VERSION"
    grep '^replace github.com/hashicorp/hcl/v2 ' "$modfile"
  } > "$w/go.mod"
  cat > "$w/tools.go" <<'SRC'
//go:build tools

package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
SRC
  (cd "$w" && GOFLAGS=-mod=mod go mod tidy >/dev/null
   mkdir -p "$cache/$key/bin"
   GOFLAGS=-mod=mod go build -trimpath -o "$cache/$key/bin/tofu.tmp" github.com/opentofu/opentofu/cmd/tofu &&
   mv "$cache/$key/bin/tofu.tmp" "$cache/$key/bin/tofu")
  rm -rf "$w"
  link opentofu "$OPENTOFU_VERSION" tofu
  ln -sfn "$cache/$key/bin/tofu" "$bin/terraform"
}

want="${*:-etcd kube kwok controller-gen tfplugindocs golangci-lint terraform}"
for t in $want; do
  case "$t" in
    etcd) build_etcd ;;
    kube) build_kube ;;
    kwok) go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok kwok ;;
    controller-gen) go_install controller-tools "$CONTROLLER_TOOLS_VERSION" sigs.k8s.io/controller-tools/cmd/controller-gen controller-gen ;;
    terraform) build_terraform ;;
    golangci-lint) go_install golangci-lint "$GOLANGCI_LINT_VERSION" github.com/golangci/golangci-lint/v2/cmd/golangci-lint golangci-lint ;;
    tfplugindocs) go_install terraform-plugin-docs "$TFPLUGINDOCS_VERSION" github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs tfplugindocs ;;
    *) echo "unknown tool $t" >&2; exit 2 ;;
  esac
done
echo "tools ready in $bin: $want"
