#!/bin/sh
# Lays out the protobuf IDL of the Kubernetes API (every `generated.proto` of k8s.io/api,
# apimachinery, apiextensions-apiserver and kube-aggregator at v0.<Y>.<Z>) by import path under
# <spec dir>/v<X.Y.Z>/proto/, as the generator reads it (`load_proto.rs`), taken from the Go
# module cache (`go mod download`, checked against sum.golang.org by the go command).
# The files are third-party and never committed (spec/v*/ is git-ignored); the generator stores
# only what it needs from them (field numbers) in the committed model spec/v<X.Y.Z>.api.
# For 1.36.0 this reproduces ../shared/spec/v1.36.0/proto/ byte for byte.
# Then: tools/goshapes/refresh.sh X.Y.Z, and generate with a spec directory holding vX.Y.Z.
# Usage: tools/goshapes/fetch-proto.sh X.Y.Z [SPEC_DIR]   (SPEC_DIR: default $K8S_SPEC_DIR, else spec/)
set -eu
[ $# -ge 1 ] || { echo "usage: $0 X.Y.Z [SPEC_DIR]" >&2; exit 2; }
v=${1#v}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
spec=${2:-${K8S_SPEC_DIR:-$root/spec}}
mod="v0.${v#*.}"
dest="$spec/v$v/proto"
tmp="$spec/v$v/.proto.tmp$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp"
{
    echo "generated.proto files of the Kubernetes $v API, laid out by import path."
    echo "Taken from the Go module cache by tools/goshapes/fetch-proto.sh (go mod download):"
} > "$tmp/SOURCE.txt"
count=0
for m in api apimachinery apiextensions-apiserver kube-aggregator; do
    json=$(go mod download -json "k8s.io/$m@$mod")
    dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    sum=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p')
    [ -n "$dir" ] && [ -d "$dir" ] || { echo "fetch-proto: cannot download k8s.io/$m@$mod" >&2; exit 1; }
    echo "  k8s.io/$m $mod $sum" >> "$tmp/SOURCE.txt"
    files=$(cd "$dir" && find . -name generated.proto -type f | sort)
    for f in $files; do
        rel=${f#./}
        mkdir -p "$tmp/k8s.io/$m/$(dirname "$rel")"
        cp "$dir/$rel" "$tmp/k8s.io/$m/$rel"
        chmod 644 "$tmp/k8s.io/$m/$rel"
        count=$((count + 1))
    done
done
[ "$count" -gt 0 ] || { echo "fetch-proto: no generated.proto found" >&2; exit 1; }
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "wrote $dest ($count generated.proto files)"
