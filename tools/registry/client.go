package main

// push and tag: what CI does to a registry, without Docker. push writes a small random image (go-containerregistry's
// random package; the same --seed gives the same digest), or with --index a two-platform index (linux/amd64,
// linux/arm64) of such images. tag retags by manifest: it reads the source manifest and puts it under the new tag
// (no layers move), as `crane tag` does. Both authenticate through the registry's token flow like any client.

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type clientFlags struct {
	registry, repo, user string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.registry, "registry", "", "registry host:port (required)")
	fs.StringVar(&c.repo, "repo", "", "repository, e.g. team/web (required)")
	fs.StringVar(&c.user, "user", "", "user:password (default: anonymous)")
}

func (c *clientFlags) options() ([]remote.Option, error) {
	if c.registry == "" || c.repo == "" {
		return nil, fmt.Errorf("--registry and --repo are required")
	}
	auth := authn.Anonymous
	if c.user != "" {
		u, p, ok := strings.Cut(c.user, ":")
		if !ok {
			return nil, fmt.Errorf("--user: not user:password")
		}
		auth = &authn.Basic{Username: u, Password: p}
	}
	return []remote.Option{remote.WithAuth(auth), remote.WithUserAgent("preview-registry-client")}, nil
}

func (c *clientFlags) ref(suffix string) (name.Reference, error) {
	return name.ParseReference(c.registry+"/"+c.repo+suffix, name.Insecure, name.StrictValidation)
}

func printResult(digest v1.Hash, mt types.MediaType, manifests []string) {
	out := map[string]any{"digest": digest.String(), "mediaType": string(mt)}
	if manifests != nil {
		out["manifests"] = manifests
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func randomImage(src rand.Source, format string, size int64) (v1.Image, error) {
	layerType, base := types.DockerLayer, empty.Image
	if format == "oci" {
		layerType = types.OCILayer
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	layer, err := random.Layer(size, layerType, random.WithSource(src))
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "preview-registry push"}})
}

func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	var c clientFlags
	c.register(fs)
	tagName := fs.String("tag", "", "tag to push (required)")
	seed := fs.Int64("seed", 0, "random seed: the same seed gives the same image (default: a random one)")
	index := fs.Bool("index", false, "push a linux/amd64 + linux/arm64 index instead of one image")
	format := fs.String("format", "docker", "docker (Docker v2 manifest / manifest list) or oci (OCI manifest / index)")
	size := fs.Int64("size", 1024, "layer size in bytes")
	_ = fs.Parse(args)
	opts, err := c.options()
	if err != nil {
		return err
	}
	if *tagName == "" {
		return fmt.Errorf("--tag is required")
	}
	if *format != "docker" && *format != "oci" {
		return fmt.Errorf("--format: %q is not docker or oci", *format)
	}
	ref, err := c.ref(":" + *tagName)
	if err != nil {
		return err
	}
	s := *seed
	if s == 0 {
		s = rand.Int63()
	}
	src := rand.NewSource(s)
	if !*index {
		img, err := randomImage(src, *format, *size)
		if err != nil {
			return err
		}
		if err := remote.Write(ref, img, opts...); err != nil {
			return err
		}
		d, _ := img.Digest()
		mt, _ := img.MediaType()
		printResult(d, mt, nil)
		return nil
	}
	indexType := types.DockerManifestList
	if *format == "oci" {
		indexType = types.OCIImageIndex
	}
	var adds []mutate.IndexAddendum
	var children []string
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := randomImage(src, *format, *size)
		if err != nil {
			return err
		}
		d, _ := img.Digest()
		children = append(children, d.String())
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, indexType), adds...)
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return err
	}
	d, _ := idx.Digest()
	printResult(d, indexType, children)
	return nil
}

func tag(args []string) error {
	fs := flag.NewFlagSet("tag", flag.ExitOnError)
	var c clientFlags
	c.register(fs)
	from := fs.String("from", "", "source tag or digest (sha256:…) (required)")
	to := fs.String("to", "", "new tag (required)")
	_ = fs.Parse(args)
	opts, err := c.options()
	if err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return fmt.Errorf("--from and --to are required")
	}
	sep := ":"
	if strings.Contains(*from, ":") {
		sep = "@"
	}
	src, err := c.ref(sep + *from)
	if err != nil {
		return err
	}
	dst, err := c.ref(":" + *to)
	if err != nil {
		return err
	}
	desc, err := remote.Get(src, opts...)
	if err != nil {
		return err
	}
	if err := remote.Tag(dst.(name.Tag), desc, opts...); err != nil {
		return err
	}
	printResult(desc.Digest, desc.MediaType, nil)
	return nil
}
