package main

import (
	"fmt"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// landlockABI is the kernel's Landlock ABI version, 0 when Landlock is absent or disabled.
func landlockABI() int {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil || v < 1 {
		return 0
	}
	return v
}

var landlockConfigs = []landlock.Config{{}, landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5,
	landlock.V6, landlock.V7, landlock.V8, landlock.V9, landlock.V10, landlock.V11}

// LandlockReport says what the kernel's Landlock ABI lets the sandbox enforce.
type LandlockReport struct {
	ABI int `json:"abi"`
	// filesystem: only --read (read, execute) and --write (read, write) paths and four /dev files are reachable
	FS bool `json:"fs"`
	// no TCP bind or connect (ABI >= 4)
	TCP bool `json:"tcp"`
	// no UDP bind, connect or send (ABI >= 10; seccomp refuses the sockets below that)
	UDP bool `json:"udp"`
	// no signals to, and no abstract unix sockets of, processes outside the sandbox (ABI >= 6)
	Scope bool `json:"scope"`
	// no connect or send to pathname unix sockets created outside (ABI >= 9; below that seccomp refuses socket(2))
	UnixPath bool `json:"unixPath"`
}

func landlockReport(abi int) LandlockReport {
	return LandlockReport{ABI: abi, FS: abi >= 1, TCP: abi >= 4, UDP: abi >= 10, Scope: abi >= 6, UnixPath: abi >= 9}
}

// devFiles are visible in every mode: read-write /dev/null, read-only zero and random sources.
var devFiles = []struct {
	path     string
	writable bool
}{{"/dev/null", true}, {"/dev/zero", false}, {"/dev/urandom", false}, {"/dev/random", false}}

// restrictLandlock locks this process (every thread) and what it executes to the given paths, with every right
// the kernel's ABI knows how to refuse refused elsewhere: no TCP (no net rules are added), no signals or abstract
// sockets across the sandbox's edge. It sets no_new_privs.
func restrictLandlock(abi int, read, write []Path) error {
	if abi < 1 {
		return fmt.Errorf("landlock: not available in this kernel")
	}
	if abi >= len(landlockConfigs) {
		abi = len(landlockConfigs) - 1
	}
	cfg := landlockConfigs[abi]
	var rules []landlock.Rule
	for _, p := range read {
		if p.Dir {
			rules = append(rules, landlock.RODirs(p.Real))
		} else {
			rules = append(rules, landlock.ROFiles(p.Real))
		}
	}
	for _, p := range write {
		var r landlock.FSRule
		if p.Dir {
			r = landlock.RWDirs(p.Real)
			if abi >= 2 {
				r = r.WithRefer() // rename and link between the scratch directory's own directories
			}
		} else {
			r = landlock.RWFiles(p.Real)
		}
		rules = append(rules, r)
	}
	for _, d := range devFiles {
		if d.writable {
			rules = append(rules, landlock.RWFiles(d.path).IgnoreIfMissing())
		} else {
			rules = append(rules, landlock.ROFiles(d.path).IgnoreIfMissing())
		}
	}
	if err := cfg.Restrict(rules...); err != nil {
		return fmt.Errorf("landlock (ABI %d): %w", abi, err)
	}
	return nil
}
