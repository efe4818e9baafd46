package main

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStatCountsFieldsFromTheLastParenthesis(t *testing.T) {
	line := "4242 (evil) 1 2 3) R 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 98765 1000000 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	p, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procInfo{pid: 4242, ppid: 17, state: 'R', cpuTicks: 250 + 50 + 7 + 3, rssPages: 321, start: 98765}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if _, err := parseStat([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
}

// A grandchild whose parent exits is re-parented to the subreaper and is still found, and killTree ends it.
func TestKillTreeFindsReparentedGrandchildren(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	// sh starts a detached sleep in its own session and exits at once
	cmd := exec.Command("/bin/sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var grandchild int
	if _, err := fmtSscan(string(out), &grandchild); err != nil {
		t.Fatal(err)
	}
	found := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !found; time.Sleep(10 * time.Millisecond) {
		all, err := descendants(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range all {
			// setsid may fork once more; any live sleep below us will do
			if p.state != 'Z' && (p.pid == grandchild || p.ppid == grandchild || p.ppid == os.Getpid()) {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("the detached grandchild was not found below the subreaper")
	}
	if n := killTree(os.Getpid(), 10*time.Second); n != 0 {
		t.Fatalf("%d survivors", n)
	}
	// reap, then nothing is left
	for {
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 || err != nil {
			break
		}
	}
	all, _ := descendants(os.Getpid())
	for _, p := range all {
		if p.state != 'Z' {
			t.Errorf("still alive: %+v", p)
		}
	}
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }

// One watchdog sample: a full /proc scan (see tree.go).
func BenchmarkMeasureTree(b *testing.B) {
	for b.Loop() {
		if _, err := measureTree(os.Getpid()); err != nil {
			b.Fatal(err)
		}
	}
}
