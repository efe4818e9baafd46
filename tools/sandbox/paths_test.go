package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestResolvePathRecordsLinksAndClimbsFromTargets(t *testing.T) {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(d, "usr/lib64"), 0o755))
	must(os.MkdirAll(filepath.Join(d, "deep/a/b"), 0o755))
	must(os.WriteFile(filepath.Join(d, "usr/lib64/ld.so"), nil, 0o755))
	must(os.Symlink("usr/lib64", filepath.Join(d, "lib64")))
	// hop -> deep/a/b: "hop/.." is deep/a, not d (the kernel climbs from the target)
	must(os.Symlink("deep/a/b", filepath.Join(d, "hop")))

	p, err := resolvePath(filepath.Join(d, "lib64/ld.so"))
	must(err)
	if p.Real != filepath.Join(d, "usr/lib64/ld.so") || p.Dir {
		t.Errorf("real %q dir %v", p.Real, p.Dir)
	}
	if want := []Link{{Path: filepath.Join(d, "lib64"), Target: "usr/lib64"}}; !reflect.DeepEqual(p.Links, want) {
		t.Errorf("links %v, want %v", p.Links, want)
	}
	p, err = resolvePath(d + "/hop/..") // not filepath.Join: it would Clean the ".." away
	must(err)
	// filepath.Clean would have made this d itself; the kernel's answer is deep/a
	if p.Real != filepath.Join(d, "deep/a") || !p.Dir {
		t.Errorf("hop/..: real %q", p.Real)
	}
}

func TestResolvePathRefusesRootRelativeAndMissing(t *testing.T) {
	for _, p := range []string{"/", "relative/path", "/nonexistent/x"} {
		if _, err := resolvePath(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	d := t.TempDir()
	if err := os.Symlink("loop", filepath.Join(d, "loop")); err != nil {
		t.Fatal(err)
	}
	if _, err := resolvePath(filepath.Join(d, "loop")); err == nil {
		t.Error("a link loop was accepted")
	}
}
