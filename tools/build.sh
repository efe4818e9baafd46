#!/usr/bin/env bash
# Builds (or reuses) the pinned Go tools the test suite runs against: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok, helm and kustomize, and fetches the Gateway API CRDs.
#
# Each tools/<name>/go.mod pins one upstream release; it is the only place a version is written. Binaries go to
# .tools/bin/<name>-<version>[-<flags hash>]/ (git-ignored) and .tools/bin/<binary> links to the current one, so a
# second run with unchanged inputs builds nothing. The key is every input of the build: the pinned version, the
# linker flags (a changed -X stamp builds again instead of reusing a binary stamped differently) and, for our own
# tools, their source. Module and build caches live in .tools/go/, so a changed input only recompiles (or relinks)
# what changed.
#
#   bash tools/build.sh                   build what is missing
#   bash tools/build.sh helm kustomize    only these (the CLI's renderers: about 3 minutes cold instead of 17)
#   bash tools/build.sh --check [names]   exit 1 if anything is missing (builds nothing)
#
# Names: kube (kube-apiserver, kube-controller-manager, kube-scheduler), etcd, kwok, helm, kustomize, sandbox
# (preview-sandbox), registry (preview-registry), crds (Gateway API CRDs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
export GOMODCACHE="$tools/go/mod" GOCACHE="$tools/go/cache" GOFLAGS="-modcacherw -trimpath" GOTOOLCHAIN=local
export CGO_ENABLED=0 GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
check=false; [ "${1:-}" = "--check" ] && { check=true; shift; }
all_names="kube etcd kwok helm kustomize sandbox registry crds"
for n in "$@"; do
  case " $all_names " in *" $n "*) ;; *) echo "tools/build.sh: unknown tool \"$n\" (known: $all_names)" >&2; exit 2;; esac
done
selected=" ${*:-$all_names} "
# wanted <name>: whether this run builds the tool.
wanted() { case "$selected" in *" $1 "*) return 0;; *) return 1;; esac; }

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
  # Stamped with linker flags: the key names them too (a binary stamped otherwise is another build).
  if [ -n "${LDFLAGS_EXTRA:-}" ]; then
    ver="$ver-$(printf '%s' "$LDFLAGS_EXTRA" | sha256sum | cut -c1-8)"
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

if wanted kube; then
  kube_ver=$(version kube k8s.io/kubernetes)
  # Stamp the release into the binaries so `kube-apiserver --version` (and the server's /version) report it.
  LDFLAGS_EXTRA="-X k8s.io/component-base/version.gitVersion=$kube_ver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$kube_ver" | cut -d. -f2)" \
    build kube k8s.io/kubernetes \
    kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
    kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
fi
wanted etcd && build etcd go.etcd.io/etcd/server/v3 etcd=go.etcd.io/etcd/server/v3
if wanted kwok; then
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
fi
if wanted helm; then
  # Stamped as helm's own Makefile stamps a release: its version (no "+unreleased" metadata), and the Kubernetes
  # version `helm template` assumes without --kube-version, from the client-go it is built with (v0.Y.Z → 1.Y).
  # Without those, a helm built from the module reports Kubernetes v1.20 and refuses charts that need newer
  # (`kubeVersion: ">=1.23.0-0"`). The bot passes the cluster's own version anyway (--kube-version).
  helm_ver=$(version helm helm.sh/helm/v3)
  client_go=$(version helm k8s.io/client-go)
  k8s_major=$(($(echo "${client_go#v}" | cut -d. -f1) + 1))
  k8s_minor=$(echo "$client_go" | cut -d. -f2)
  helm_flags="-X helm.sh/helm/v3/internal/version.version=$helm_ver -X helm.sh/helm/v3/internal/version.metadata= -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in pkg/lint/rules pkg/chartutil; do
    helm_flags="$helm_flags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=$k8s_major -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
  done
  LDFLAGS_EXTRA=$helm_flags build helm helm.sh/helm/v3 helm=helm.sh/helm/v3/cmd/helm
fi
if wanted kustomize; then
  kustomize_ver=$(version kustomize sigs.k8s.io/kustomize/kustomize/v5)
  LDFLAGS_EXTRA="-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$kustomize_ver" \
    build kustomize sigs.k8s.io/kustomize/kustomize/v5 kustomize=sigs.k8s.io/kustomize/kustomize/v5
fi
# The renderer's sandbox (our own code: keyed by its pinned go-landlock and its source) and its test helper deny-unshare.
wanted sandbox && OWN_CODE=1 build sandbox github.com/landlock-lsm/go-landlock preview-sandbox=. deny-unshare=./cmd/deny-unshare
wanted registry && OWN_CODE=1 build registry github.com/google/go-containerregistry preview-registry=.

# Gateway API CRDs: copied out of the module zip (the module carries its config/ YAML), one YAML document per file
# (the files do not start with `---`, so each gets one). Rebuilt when missing or when it has fewer documents than the
# module has files (an earlier build.sh concatenated them without separators: two documents, no CRDs).
if wanted crds; then
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
fi

$check && exit $missing
ls -l "$tools/bin" | sed -n '2,$p' >&2
