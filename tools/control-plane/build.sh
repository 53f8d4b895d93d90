#!/usr/bin/env bash
# Builds the test control plane's binaries from the pins in go.mod into .control-plane/bin/
# of the repository: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok.
# Go's module and build caches make a rebuild after a pin change incremental; when the
# binaries already exist for the current pins (a stamp keyed by go.mod, go.sum and this
# script), nothing is built at all. Limited to 2 parallel compilations (shared machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${CONTROL_PLANE_BIN:-$here/../../.control-plane/bin}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$here"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
key="$(cat go.mod go.sum build.sh | sha256sum | cut -c1-32)"
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
fresh=1
[ "$(cat "$out/.stamp" 2>/dev/null || true)" = "$key" ] || fresh=0
for b in "${bins[@]}"; do [ -x "$out/$b" ] || fresh=0; done
if [ "$fresh" = 1 ]; then
  echo "control-plane: binaries in $out are up to date with tools/control-plane/go.mod"
  exit 0
fi
start=$(date +%s)
echo "control-plane: building ${bins[*]} into $out (go build -p 2; the first build takes a while)"
rm -f "$out/.stamp"
tmp="$out/.build"
rm -rf "$tmp" && mkdir -p "$tmp"
go build -p 2 -trimpath -ldflags='-s -w' -o "$tmp/" \
  go.etcd.io/etcd/server/v3 \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl \
  sigs.k8s.io/kwok/cmd/kwok
mv "$tmp/server" "$tmp/etcd"   # go names go.etcd.io/etcd/server/v3's binary after its path
for b in "${bins[@]}"; do mv -f "$tmp/$b" "$out/$b"; done
rmdir "$tmp"
echo "$key" > "$out/.stamp"
echo "control-plane: built in $(( $(date +%s) - start ))s"
