package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

const usage = `preview-sandbox [flags] -- <program> [args...]

Runs <program> with a clean environment, a view of only the given paths, no network, and limits on the whole
process tree; every process it started is gone when it returns. See tools/sandbox/README.md.

  --read PATH           visible read-only and executable (repeatable)
  --write PATH          visible read-write (repeatable)
  --cwd PATH            working directory (default /)
  --env K=V             the program's whole environment (repeatable); nothing is inherited
  --cpu-seconds N       CPU time of the whole tree (default 60)
  --memory-bytes N      resident memory of the whole tree (default 1073741824)
  --wall-seconds N      wall-clock time (default 120)
  --max-output N        bytes on stdout, and separately on stderr (default 67108864)
  --max-procs N         processes alive at once in the tree (default 128)
  --isolation MODE      auto | namespaces | landlock | none (default auto; none only when asked for)
  --report-fd N         write JSON lines there: the isolation in force at start, the outcome at the end

Exit status: the program's, or 128+N if it was killed by signal N; 120 too many processes, 121 CPU, 122 memory,
123 output, 124 wall time, 125 nothing was run (bad flags, no isolation available, set-up failed), 126 program not
executable, 127 program not found.
`

var errHelp = errors.New("help")

// Options is the launcher's parsed command line.
type Options struct {
	Read, Write []Path
	Cwd         string
	Env         []string
	CPUSeconds  int64
	MemoryBytes int64
	WallSeconds int64
	MaxOutput   int64
	MaxProcs    int64
	Isolation   string
	ReportFD    int // -1: none
	Argv        []string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type positiveFlag struct {
	v    *int64
	name string
}

func (p positiveFlag) String() string {
	if p.v == nil {
		return ""
	}
	return strconv.FormatInt(*p.v, 10)
}
func (p positiveFlag) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a positive whole number", s)
	}
	*p.v = n
	return nil
}

func parseFlags(args []string) (*Options, error) {
	o := &Options{Cwd: "/", CPUSeconds: 60, MemoryBytes: 1 << 30, WallSeconds: 120, MaxOutput: 64 << 20,
		MaxProcs: 128, Isolation: "auto", ReportFD: -1}
	fs := flag.NewFlagSet("preview-sandbox", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var read, write, env listFlag
	fs.Var(&read, "read", "")
	fs.Var(&write, "write", "")
	fs.Var(&env, "env", "")
	fs.StringVar(&o.Cwd, "cwd", o.Cwd, "")
	fs.StringVar(&o.Isolation, "isolation", o.Isolation, "")
	fs.IntVar(&o.ReportFD, "report-fd", o.ReportFD, "")
	fs.Var(positiveFlag{&o.CPUSeconds, "cpu-seconds"}, "cpu-seconds", "")
	fs.Var(positiveFlag{&o.MemoryBytes, "memory-bytes"}, "memory-bytes", "")
	fs.Var(positiveFlag{&o.WallSeconds, "wall-seconds"}, "wall-seconds", "")
	fs.Var(positiveFlag{&o.MaxOutput, "max-output"}, "max-output", "")
	fs.Var(positiveFlag{&o.MaxProcs, "max-procs"}, "max-procs", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	o.Argv = fs.Args()
	if len(o.Argv) == 0 || o.Argv[0] == "" {
		return nil, errors.New("no program given (preview-sandbox [flags] -- <program> [args...])")
	}
	switch o.Isolation {
	case "auto", "namespaces", "landlock", "none":
	default:
		return nil, fmt.Errorf("--isolation %q: want auto, namespaces, landlock or none", o.Isolation)
	}
	if o.ReportFD == 0 || o.ReportFD == 1 || o.ReportFD == 2 || o.ReportFD < -1 {
		return nil, fmt.Errorf("--report-fd %d: want a descriptor above 2 (0-2 are the program's)", o.ReportFD)
	}
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return nil, fmt.Errorf("--env %q: want NAME=value", kv)
		}
	}
	o.Env = env
	if !filepath.IsAbs(o.Cwd) {
		return nil, fmt.Errorf("--cwd %q: want an absolute path", o.Cwd)
	}
	var err error
	if o.Read, err = resolveAll("--read", read); err != nil {
		return nil, err
	}
	if o.Write, err = resolveAll("--write", write); err != nil {
		return nil, err
	}
	// Landlock adds rights up: a read-only path inside a writable one would be writable in that mode.
	for _, r := range o.Read {
		for _, w := range o.Write {
			if r.Real != w.Real && within(r.Real, w.Real) {
				return nil, fmt.Errorf("--read %q is inside --write %q: it cannot be made read-only there", r.Given, w.Given)
			}
		}
	}
	if o.Cwd, err = resolveCwd(o.Cwd, append(append([]Path{}, o.Read...), o.Write...)); err != nil {
		return nil, err
	}
	return o, nil
}

// within says whether path is dir or below it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// resolveCwd resolves the working directory, which must be "/" or a directory inside a --read or --write path
// (the same answer in every mode: Landlock would let the program chdir anywhere, and then read nothing there).
func resolveCwd(cwd string, visible []Path) (string, error) {
	if filepath.Clean(cwd) == "/" {
		return "/", nil
	}
	p, err := resolvePath(cwd)
	if err != nil {
		return "", fmt.Errorf("--cwd %q: %w", cwd, err)
	}
	if !p.Dir {
		return "", fmt.Errorf("--cwd %q: not a directory", cwd)
	}
	for _, v := range visible {
		if v.Dir && within(p.Real, v.Real) {
			return p.Real, nil
		}
	}
	return "", fmt.Errorf("--cwd %q is not inside a --read or --write directory", cwd)
}

func resolveAll(flagName string, paths []string) ([]Path, error) {
	out := make([]Path, 0, len(paths))
	for _, p := range paths {
		r, err := resolvePath(p)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flagName, p, err)
		}
		out = append(out, r)
	}
	return out, nil
}
