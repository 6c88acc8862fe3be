#!/bin/sh
# Refreshes spec/goshapes/v<X.Y.Z>.txt: how Go's protobuf encoder treats every field of the
# Kubernetes API structs (value or pointer, and json omitempty), read from the Go sources of
# k8s.io/api, apimachinery, apiextensions-apiserver and kube-aggregator at v0.<Y>.<Z>.
# Facts only, no descriptions. Then regenerate:
#   K8S_SPEC_DIR=/work/shared/spec cargo xtask generate --all
# Usage: tools/goshapes/refresh.sh [X.Y.Z...]   (default: every version with a proto/ directory
# under $K8S_SPEC_DIR, else spec/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
spec=${K8S_SPEC_DIR:-$root/spec}
versions="$*"
if [ -z "$versions" ]; then
    for d in "$spec"/v*/proto; do
        [ -d "$d" ] || continue
        v=$(basename "$(dirname "$d")")
        versions="$versions ${v#v}"
    done
fi
mkdir -p "$root/spec/goshapes"
bin="$root/target/tmp/goshapes"
(cd "$here" && go build -o "$bin" .)
for v in $versions; do
    mod="v0.${v#*.}"
    args=""
    for m in api apimachinery apiextensions-apiserver kube-aggregator; do
        dir=$(go mod download -json "k8s.io/$m@$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
        [ -n "$dir" ] || { echo "goshapes: cannot download k8s.io/$m@$mod" >&2; exit 1; }
        args="$args k8s.io/$m=$dir"
    done
    out="$root/spec/goshapes/v$v.txt"
    # shellcheck disable=SC2086
    "$bin" $args > "$out.tmp"
    mv "$out.tmp" "$out"
    echo "wrote $out ($(wc -l < "$out") fields)"
done
