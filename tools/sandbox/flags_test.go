package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFlagsReadsEveryFlag(t *testing.T) {
	d := t.TempDir()
	o, err := parseFlags([]string{"--read", d, "--write", d, "--cwd", d, "--env", "A=b=c", "--env", "EMPTY=",
		"--cpu-seconds", "3", "--memory-bytes", "1000", "--wall-seconds", "4", "--max-output", "5", "--max-procs", "6",
		"--isolation", "landlock", "--report-fd", "7", "--", "prog", "--read", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Read) != 1 || len(o.Write) != 1 || o.Cwd != d || strings.Join(o.Env, ",") != "A=b=c,EMPTY=" ||
		o.CPUSeconds != 3 || o.MemoryBytes != 1000 || o.WallSeconds != 4 || o.MaxOutput != 5 || o.MaxProcs != 6 ||
		o.Isolation != "landlock" || o.ReportFD != 7 || strings.Join(o.Argv, " ") != "prog --read x" {
		t.Errorf("parsed %+v", o)
	}
}

func TestParseFlagsRefusesAReadPathInsideAWritePath(t *testing.T) {
	d := t.TempDir()
	if err := os.Mkdir(filepath.Join(d, "ro"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := parseFlags([]string{"--write", d, "--read", filepath.Join(d, "ro"), "--", "p"})
	if err == nil || !strings.Contains(err.Error(), "cannot be made read-only") {
		t.Errorf("got %v", err)
	}
	// the other way round is fine: a writable directory inside a read-only tree
	if _, err := parseFlags([]string{"--read", d, "--write", filepath.Join(d, "ro"), "--cwd", filepath.Join(d, "ro"), "--", "p"}); err != nil {
		t.Error(err)
	}
}

func TestParseFlagsRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--"}, "no program"},
		{[]string{"--isolation", "off", "--", "p"}, "--isolation"},
		{[]string{"--report-fd", "1", "--", "p"}, "--report-fd 1"},
		{[]string{"--env", "NOEQUALS", "--", "p"}, `--env "NOEQUALS"`},
		{[]string{"--env", "=v", "--", "p"}, `--env "=v"`},
		{[]string{"--cpu-seconds", "0", "--", "p"}, "positive"},
		{[]string{"--memory-bytes", "-1", "--", "p"}, "positive"},
		{[]string{"--read", "relative", "--", "p"}, `--read "relative"`},
		{[]string{"--write", "/", "--", "p"}, "whole filesystem"},
		{[]string{"--read", "/proc/self", "--", "p"}, "/proc"},
		{[]string{"--cwd", "rel", "--", "p"}, "--cwd"},
		{[]string{"--cwd", "/usr", "--", "p"}, "not inside a --read or --write directory"},
	} {
		_, err := parseFlags(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
