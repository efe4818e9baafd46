#!/usr/bin/env bash
# Builds (or reuses) the pinned Go tools the test suite runs against: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok, helm and kustomize, and fetches the Gateway API CRDs.
#
# Each tools/<name>/go.mod pins one upstream release; it is the only place a version is written. Binaries go to
# .tools/bin/<name>-<version>/ (git-ignored) and .tools/bin/<binary> links to the current one, so a second run
# with unchanged versions builds nothing. Module and build caches live in .tools/go/, so a changed version only
# recompiles what changed.
#
#   bash tools/build.sh            build what is missing
#   bash tools/build.sh --check    exit 1 if anything is missing (builds nothing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
export GOMODCACHE="$tools/go/mod" GOCACHE="$tools/go/cache" GOFLAGS="-modcacherw -trimpath" GOTOOLCHAIN=local
export CGO_ENABLED=0 GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
check=false; [ "${1:-}" = "--check" ] && check=true

command -v go >/dev/null || { echo "tools/build.sh: Go is not installed (https://go.dev/dl/, Go >= 1.26); nothing built" >&2; exit 3; }
mkdir -p "$tools/bin"

# version <module dir> <module path>: the release that tools/<dir>/go.mod requires.
version() { (cd "$root/tools/$1" && go mod edit -json | node -e '
  const m = JSON.parse(require("fs").readFileSync(0, "utf8")); const want = process.argv[1];
  const r = (m.Require || []).find((x) => x.Path === want); if (!r) process.exit(1); console.log(r.Version);' "$2"); }

missing=0
# build <module dir> <module path> <binary>=<package> ...
build() {
  local dir=$1 mod=$2; shift 2
  local ver; ver=$(version "$dir" "$mod")
  # A tool of our own (its code is in tools/<dir>): the key also names its source, so a change rebuilds it.
  if [ "${OWN_CODE:-}" = 1 ]; then
    ver="$ver-$(cd "$root/tools/$dir" && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-12)"
  fi
  local out="$tools/bin/$dir-$ver" want=() b
  for spec in "$@"; do b=${spec%%=*}; [ -x "$out/$b" ] || want+=("$spec"); done
  if [ ${#want[@]} -gt 0 ]; then
    if $check; then echo "missing: $dir $ver (${want[*]%%=*})"; missing=1; return; fi
    echo "building $dir $ver: ${want[*]%%=*}" >&2
    local t0=$SECONDS
    (cd "$root/tools/$dir" && [ -f go.sum ] || go mod tidy)
    mkdir -p "$out"
    for spec in "${want[@]}"; do
      (cd "$root/tools/$dir" && go build -ldflags="-s -w ${LDFLAGS_EXTRA:-}" -o "$out/${spec%%=*}" "${spec#*=}")
    done
    echo "built $dir $ver in $((SECONDS - t0)) s" >&2
  fi
  for spec in "$@"; do b=${spec%%=*}; ln -sfn "$dir-$ver/$b" "$tools/bin/$b"; done
}

kube_ver=$(version kube k8s.io/kubernetes)
# Stamp the release into the binaries so `kube-apiserver --version` (and the server's /version) report it.
LDFLAGS_EXTRA="-X k8s.io/component-base/version.gitVersion=$kube_ver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$kube_ver" | cut -d. -f2)" \
  build kube k8s.io/kubernetes \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
build etcd go.etcd.io/etcd/server/v3 etcd=go.etcd.io/etcd/server/v3
build kwok sigs.k8s.io/kwok kwok=sigs.k8s.io/kwok/cmd/kwok
# kwok acts only through Stages: the "fast" node and pod stages from its own module (node-initialize, pod-ready,
# pod-complete, pod-delete), so simulated pods become Running and Ready and deleted pods go away.
kwok_ver=$(version kwok sigs.k8s.io/kwok)
kwok_stages="$tools/bin/kwok-$kwok_ver/stages.yaml"
if [ ! -f "$kwok_stages" ]; then
  if $check; then echo "missing: kwok stages $kwok_ver"; missing=1
  else
    kdir=$(cd "$root/tools/kwok" && go mod download -json sigs.k8s.io/kwok@"$kwok_ver" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).Dir)')
    for f in "$kdir"/kustomize/stage/node/fast/*.yaml "$kdir"/kustomize/stage/pod/fast/*.yaml; do
      case $(basename "$f") in kustomization.yaml) continue;; esac
      cat "$f"; echo "---"
    done > "$kwok_stages.tmp" && mv "$kwok_stages.tmp" "$kwok_stages"
  fi
fi
[ -f "$kwok_stages" ] && ln -sfn "kwok-$kwok_ver/stages.yaml" "$tools/bin/kwok-stages.yaml"
helm_ver=$(version helm helm.sh/helm/v3)
LDFLAGS_EXTRA="-X helm.sh/helm/v3/internal/version.version=$helm_ver" build helm helm.sh/helm/v3 helm=helm.sh/helm/v3/cmd/helm
kustomize_ver=$(version kustomize sigs.k8s.io/kustomize/kustomize/v5)
LDFLAGS_EXTRA="-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$kustomize_ver" \
  build kustomize sigs.k8s.io/kustomize/kustomize/v5 kustomize=sigs.k8s.io/kustomize/kustomize/v5
# The renderer's sandbox (our own code: keyed by its pinned go-landlock and its source) and its test helper deny-unshare.
OWN_CODE=1 build sandbox github.com/landlock-lsm/go-landlock preview-sandbox=. deny-unshare=./cmd/deny-unshare

OWN_CODE=1 build registry github.com/google/go-containerregistry preview-registry=.

# Gateway API CRDs: copied out of the module zip (the module carries its config/ YAML), one YAML document per file
# (the files do not start with `---`, so each gets one). Rebuilt when missing or when it has fewer documents than the
# module has files (an earlier build.sh concatenated them without separators: two documents, no CRDs).
gw_ver=$(version crds sigs.k8s.io/gateway-api)
gw_out="$tools/crds/gateway-api-$gw_ver"
gw_docs() { grep -c '^---$' "$gw_out/standard-install.yaml" 2>/dev/null || echo 0; }
if [ ! -f "$gw_out/standard-install.yaml" ] || [ "$(gw_docs)" -lt 10 ]; then
  if $check; then echo "missing: gateway-api CRDs $gw_ver"; missing=1
  else
    dir=$(cd "$root/tools/crds" && go mod download -json sigs.k8s.io/gateway-api@"$gw_ver" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).Dir)')
    mkdir -p "$gw_out"
    for f in "$dir"/config/crd/standard/*.yaml; do echo "---"; cat "$f"; echo; done > "$gw_out/standard-install.yaml.tmp"
    mv "$gw_out/standard-install.yaml.tmp" "$gw_out/standard-install.yaml"
  fi
fi
[ -f "$gw_out/standard-install.yaml" ] && ln -sfn "gateway-api-$gw_ver" "$tools/crds/gateway-api"

$check && exit $missing
ls -l "$tools/bin" | sed -n '2,$p' >&2
