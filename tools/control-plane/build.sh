#!/usr/bin/env bash
# Builds the test control plane's binaries from the pins in go.mod: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and kwok; links them into .control-plane/bin/
# of the repository (git-ignored), where `npm run control-plane` and the tests find them.
#
# Built once per pin set: the binaries live in a cache directory keyed by a hash of go.mod,
# go.sum and the Go version (HSCALE_CONTROL_PLANE_CACHE, default ~/.cache/hscale-control-plane),
# so a fresh clone (CI's) only links them; a pin change rebuilds with Go's module and build caches.
# Limited to 2 parallel compilations: the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
cd "$here"
key="$( (cat go.mod go.sum; go version) | sha256sum | cut -c1-16)"
cache="${HSCALE_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hscale-control-plane}"
dir="$cache/$key"
link="${CONTROL_PLANE_BIN:-$here/../../.control-plane/bin}"
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

built=1
for b in "${bins[@]}"; do [ -x "$dir/$b" ] || built=0; done
if [ "$built" = 1 ]; then
  echo "control-plane: binaries for these pins are built ($dir)"
else
  start=$(date +%s)
  echo "control-plane: building ${bins[*]} into $dir (go build -p 2; the first build takes a while)"
  tmp="$cache/.build-$key-$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  go build -p 2 -trimpath -ldflags='-s -w' -o "$tmp/" \
    go.etcd.io/etcd/server/v3 \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl \
    sigs.k8s.io/kwok/cmd/kwok
  mv "$tmp/server" "$tmp/etcd" # go names go.etcd.io/etcd/server/v3's binary after its path
  # Binaries of older pins go: each set is about 400 MB.
  find "$cache" -mindepth 1 -maxdepth 1 -not -name "$key" -not -name '.build-*' -exec rm -rf {} +
  rm -rf "$dir" && mv "$tmp" "$dir"
  echo "control-plane: built in $(( $(date +%s) - start ))s"
fi
mkdir -p "$link"
for b in "${bins[@]}"; do ln -sfn "$dir/$b" "$link/$b"; done
echo "control-plane: $(cd "$link" && pwd)/{$(IFS=,; echo "${bins[*]}")}"
