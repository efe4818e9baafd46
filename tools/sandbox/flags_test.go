package main

import (
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
	} {
		_, err := parseFlags(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
