// preview-registry: a real OCI registry for the tests (go-containerregistry's in-memory `registry` package) behind a
// Docker token-auth front like Docker Hub's and GHCR's, plus the client commands the tests use to push and retag
// images without Docker. Built by ../build.sh; the version is the one go.mod pins.
//
//	preview-registry serve --listen 127.0.0.1:0 --log FILE [--users u:p,...] [--public-prefix lib/,...]
//	                       [--private-prefix team/,...] [--service NAME] [--token-ttl 300s] [--deny-with-empty-token]
//	                       [--auth token|basic]
//	preview-registry push  --registry HOST:PORT --repo NAME --tag TAG [--user u:p] [--seed N] [--index] [--format oci|docker]
//	preview-registry tag   --registry HOST:PORT --repo NAME --from TAG|DIGEST --to TAG [--user u:p]
//
// serve prints one JSON line once listening: {"port":N,"version":"<go-containerregistry version>"}. push and tag print
// one JSON line: {"digest":"sha256:…","mediaType":"…"} (push --index adds "manifests": the per-platform digests).
package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

const ggcrModule = "github.com/google/go-containerregistry"

// ggcrVersion is the go-containerregistry release this binary was built with (from the build info).
func ggcrVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == ggcrModule {
				return d.Version
			}
		}
	}
	return "unknown"
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "tag":
		err = tag(os.Args[2:])
	case "version", "--version":
		fmt.Printf("preview-registry (go-containerregistry %s)\n", ggcrVersion())
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "preview-registry %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: preview-registry serve|push|tag|version [flags] (see --help of each)")
	os.Exit(2)
}
