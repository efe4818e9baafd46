package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Path is a --read or --write path: as given, and as the kernel resolves it. The namespaces mode mounts Real at
// Real and recreates each symbolic link met on the way (Links), so a path given through links (/lib64 ->
// usr/lib64) works inside exactly as outside.
type Path struct {
	Given string `json:"given"`
	Real  string `json:"real"`
	Dir   bool   `json:"dir"`
	Links []Link `json:"links,omitempty"`
}

// Link is a symbolic link at Path (itself free of links) whose content is Target.
type Link struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// resolvePath resolves p one component at a time, as the kernel does (a ".." after a link climbs from the link's
// target, not from the link), recording the links it follows.
func resolvePath(p string) (Path, error) {
	if !filepath.IsAbs(p) {
		return Path{}, errors.New("want an absolute path")
	}
	out := Path{Given: p} // not Cleaned: Clean would drop "x/.." lexically, before x is resolved
	resolved := "/"
	rest := strings.Split(strings.TrimPrefix(out.Given, "/"), "/")
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return Path{}, err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if hops++; hops > 40 {
			return Path{}, fmt.Errorf("too many symbolic links at %s", next)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return Path{}, err
		}
		out.Links = append(out.Links, Link{Path: next, Target: target})
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	if resolved == "/" {
		return Path{}, errors.New("the whole filesystem cannot be a sandbox path")
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return Path{}, err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return Path{}, fmt.Errorf("%s is neither a directory nor a regular file", resolved)
	}
	if resolved == "/proc" || strings.HasPrefix(resolved, "/proc/") {
		return Path{}, fmt.Errorf("%s: /proc is never shared (the sandbox has its own, or none)", resolved)
	}
	out.Real = resolved
	out.Dir = fi.IsDir()
	return out, nil
}
