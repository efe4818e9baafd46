package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"previewbot.local/tools/sandbox/internal/seccomp"
)

// watchInterval is how often the watchdog samples the tree's CPU time, resident memory and process count.
const watchInterval = 50 * time.Millisecond

// nobody is who the program runs as, outside, when the launcher runs as root.
const nobody = 65534

type launcher struct {
	o     *Options
	self  int
	t0    time.Time
	rep   reporter
	stdin uintptr

	outR, outW, errR, errW *os.File

	tripOnce sync.Once
	tripCh   chan struct{}
	reason   string
	message  string

	cpuBase float64
	peakRSS atomic.Int64
	lastCPU atomic.Uint64 // float64 bits: the last sampled CPU seconds of the tree

	termSignal atomic.Int32 // the signal that ended the launcher (reason terminated)

	exitMu   sync.Mutex
	exitLine string // namespaces: init's "exit code N" / "exit signal N"
}

// stageError is a failure before the program ran (kind "setup"), or in executing it (kind "exec").
type stageError struct {
	kind   string
	status int
	msg    string
}

func (e *stageError) Error() string { return e.msg }

func launch(o *Options) int {
	l := &launcher{o: o, self: os.Getpid(), t0: time.Now(), tripCh: make(chan struct{})}
	if o.ReportFD >= 0 {
		if _, err := unix.FcntlInt(uintptr(o.ReportFD), unix.F_GETFD, 0); err != nil {
			fmt.Fprintf(os.Stderr, "preview-sandbox: --report-fd %d is not an open descriptor\n", o.ReportFD)
			return ExitRefused
		}
		l.rep.f = os.NewFile(uintptr(o.ReportFD), "report")
	}
	if err := l.prepare(); err != nil {
		return l.refuse(ExitRefused, err.Error())
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE) // a closed stdout is an error to handle, not death
	go func() {
		s := <-sigs
		l.termSignal.Store(int32(s.(syscall.Signal)))
		l.trip(reasonTerminated, fmt.Sprintf("the launcher got %v", s))
	}()
	wall := time.AfterFunc(time.Duration(o.WallSeconds)*time.Second, func() {
		l.trip(reasonTimeout, fmt.Sprintf("wall time limit of %d s reached", o.WallSeconds))
	})
	defer wall.Stop()
	outDone := l.copyCapped(os.Stdout, l.outR, "stdout")
	errDone := l.copyCapped(os.Stderr, l.errR, "stderr")

	// A limit or a signal while the sandbox is being set up ends the stage (the start then fails).
	starting := make(chan struct{})
	go func() {
		select {
		case <-l.tripCh:
			killTree(l.self, 10*time.Second)
		case <-starting:
		}
	}()
	pid, start, stR, err := l.start()
	close(starting)
	l.outW.Close()
	l.errW.Close()
	if err != nil {
		killTree(l.self, 10*time.Second)
		<-outDone
		<-errDone
		if l.tripped() { // a limit or a signal, not a refusal
			return l.finish(0, 0)
		}
		var se *stageError
		if errors.As(err, &se) {
			return l.refuse(se.status, se.msg)
		}
		return l.refuse(ExitRefused, err.Error())
	}
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &ru)
	l.cpuBase = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	start.PID = pid
	l.rep.write(start)
	if start.Isolation != "namespaces" && o.ReportFD < 0 && start.Fallback != "" {
		fmt.Fprintf(os.Stderr, "preview-sandbox: %s; isolation: %s\n", start.Fallback, start.Isolation)
	}
	if stR != nil { // namespaces: init tells how the program ended
		go func() {
			for {
				line, err := stR.ReadString('\n')
				if strings.HasPrefix(line, "exit ") {
					l.exitMu.Lock()
					l.exitLine = strings.TrimSpace(line)
					l.exitMu.Unlock()
				}
				if err != nil {
					return
				}
			}
		}()
	}

	type mainEnd struct {
		ws    unix.WaitStatus
		alone bool // no other child then: as a subreaper, the launcher had no descendant left
	}
	mainDone := make(chan mainEnd, 1)
	noChildren := make(chan struct{})
	go func() { // the reaper: the program, and every orphan re-parented to this subreaper
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				close(noChildren)
				return
			}
			if wpid == pid {
				var info unix.Siginfo // peek (WNOWAIT): ECHILD means no child at all
				err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
				mainDone <- mainEnd{ws: ws, alone: err == unix.ECHILD}
			}
		}
	}()
	stopWatch := make(chan struct{})
	go l.watch(stopWatch)

	var end mainEnd
	mainExited := false
	select {
	case end = <-mainDone:
		mainExited = true
	case <-l.tripCh:
	}
	close(stopWatch)
	survivors := 0
	if !end.alone { // the scan costs ~1.5 ms; it is skipped only when the kernel says there is nothing left
		survivors = killTree(l.self, 10*time.Second)
	}
	if !mainExited {
		select {
		case end = <-mainDone:
		case <-time.After(10 * time.Second):
		}
	}
	ws := end.ws
	select {
	case <-noChildren:
	case <-time.After(10 * time.Second):
	}
	for _, done := range []<-chan struct{}{outDone, errDone} {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
	return l.finish(ws, survivors)
}

// prepare: nothing inherited reaches the program but stdin, stdout and stderr; orphans come back to the
// launcher; as root, no supplementary group is passed on.
func (l *launcher) prepare() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	if os.Geteuid() == 0 {
		if err := syscall.Setgroups([]int{}); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	l.stdin = 0
	if _, err := unix.FcntlInt(0, unix.F_GETFD, 0); err != nil {
		f, err := os.Open(os.DevNull)
		if err != nil {
			return err
		}
		l.stdin = f.Fd()
	}
	var err error
	if l.outR, l.outW, err = os.Pipe(); err != nil {
		return err
	}
	if l.errR, l.errW, err = os.Pipe(); err != nil {
		return err
	}
	return nil
}

// start runs the program under the isolation asked for: auto tries namespaces, then Landlock, and refuses when
// neither is there; none only when asked for by name.
func (l *launcher) start() (int, *StartReport, *bufio.Reader, error) {
	o := l.o
	var refused []string
	if o.Isolation == "auto" || o.Isolation == "namespaces" {
		pid, rep, stR, err := l.startNamespaces()
		if err == nil {
			return pid, rep, stR, nil
		}
		var se *stageError
		// the program's own failure (not found, --cwd unreachable) would be the same under Landlock
		if errors.As(err, &se) && se.kind != "setup" || o.Isolation == "namespaces" || l.tripped() {
			return 0, nil, nil, err
		}
		refused = append(refused, "namespaces refused: "+err.Error())
	}
	if o.Isolation == "auto" || o.Isolation == "landlock" {
		abi := landlockABI()
		if abi == 0 {
			refused = append(refused, "landlock: not available in this kernel")
			if o.Isolation == "auto" {
				refused = append(refused, "refusing to run unconfined: pass --isolation none to run with no isolation")
			}
			return 0, nil, nil, errors.New(strings.Join(refused, "; "))
		}
		pid, rep, err := l.startPlain("landlock", abi)
		if err != nil {
			return 0, nil, nil, errors.New(strings.Join(append(refused, "landlock: "+err.Error()), "; "))
		}
		rep.Fallback = strings.Join(refused, "; ")
		return pid, rep, nil, nil
	}
	// --isolation none, asked for by name
	fmt.Fprintln(os.Stderr, "preview-sandbox: WARNING: --isolation none: no namespaces and no Landlock; the program "+
		"sees every file its uid can read (only the environment, the seccomp filter and the limits apply)")
	pid, rep, err := l.startPlain("none", 0)
	if err != nil {
		return 0, nil, nil, err
	}
	rep.Warning = "NO ISOLATION: --isolation none was given; the program can read every file its uid can"
	return pid, rep, nil, nil
}

func (l *launcher) stageConfig(mode string, abi int) *stageConfig {
	c := &stageConfig{Mode: mode, Read: l.o.Read, Write: l.o.Write, Cwd: l.o.Cwd, Env: l.o.Env, Argv: l.o.Argv,
		CPUSeconds: l.o.CPUSeconds, LandlockABI: abi, DropUID: -1, DropGID: -1}
	if c.Env == nil {
		c.Env = []string{}
	}
	switch mode {
	case "namespaces":
		c.UnixSockets = true // the host's sockets are not in the new root
	case "landlock":
		c.UnixSockets = abi >= 9 // below ABI 9 Landlock cannot keep a pathname unix socket's connect in
	case "none":
		c.UnixSockets = true
	}
	if mode != "namespaces" && os.Geteuid() == 0 {
		c.DropUID, c.DropGID = nobody, nobody
	}
	return c
}

func (l *launcher) baseReport(isolation string, cfg *stageConfig) *StartReport {
	rules := seccomp.Sandbox(cfg.UnixSockets)
	r := &StartReport{Event: "start", Isolation: isolation, Requested: l.o.Isolation,
		Seccomp: SeccompReport{Enforced: true, Refuses: seccomp.Names(rules)}, NoNewPrivs: true,
		UID: os.Geteuid(), GID: os.Getegid(), Caps: "none", LauncherPID: l.self,
		Limits: LimitsReport{CPUSeconds: l.o.CPUSeconds, MemoryBytes: l.o.MemoryBytes, WallSeconds: l.o.WallSeconds,
			MaxOutputBytes: l.o.MaxOutput, MaxProcs: l.o.MaxProcs,
			How: fmt.Sprintf("the launcher samples the whole tree every %v (CPU time of live and exited processes, "+
				"summed resident memory, live processes) and kills it; RLIMIT_CPU one second later per process; "+
				"the wall clock and output caps are exact", watchInterval)},
	}
	r.Groups, _ = os.Getgroups()
	if r.Groups == nil {
		r.Groups = []int{}
	}
	if cfg.DropUID >= 0 {
		r.UID, r.GID, r.Groups = cfg.DropUID, cfg.DropGID, []int{}
	}
	return r
}

func (l *launcher) startNamespaces() (int, *StartReport, *bufio.Reader, error) {
	cfg := l.stageConfig("namespaces", 0)
	hostUID, hostGID := os.Geteuid(), os.Getegid()
	if hostUID == 0 {
		hostUID, hostGID = nobody, nobody
	}
	sys := func(flags uintptr) *syscall.SysProcAttr {
		return &syscall.SysProcAttr{
			Cloneflags:                 flags,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostUID, Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostGID, Size: 1}},
			GidMappingsEnableSetgroups: false,
			Credential:                 &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
			Setsid:                     true,
			Pdeathsig:                  syscall.SIGKILL,
		}
	}
	cgroup := true
	pid, stR, err := l.spawn("init", sys(nsFlags|cgroupFlag), cfg)
	if errors.Is(err, unix.EINVAL) {
		cgroup = false
		pid, stR, err = l.spawn("init", sys(nsFlags), cfg)
	}
	if err != nil {
		return 0, nil, nil, fmt.Errorf("clone(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET|...): %w", err)
	}
	r := bufio.NewReader(stR)
	if err := l.awaitStart(pid, r, true); err != nil {
		stR.Close()
		return 0, nil, nil, err
	}
	rep := l.baseReport("namespaces", cfg)
	zero := 0
	rep.UID, rep.GID, rep.UIDInside = hostUID, hostGID, &zero
	rep.Namespaces = &NamespacesReport{User: true, PID: true, Mount: true, Net: true, IPC: true, UTS: true, Cgroup: cgroup,
		Root:    "tmpfs (read-only) with --read bound read-only, --write read-write, /dev/{null,zero,urandom,random}, private /proc, empty /tmp",
		Network: "loopback only"}
	// launch goes on reading (init's "exit" line); the pipe closes when init exits.
	return pid, rep, r, nil
}

func (l *launcher) startPlain(mode string, abi int) (int, *StartReport, error) {
	cfg := l.stageConfig(mode, abi)
	pid, stR, err := l.spawn("exec", &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}, cfg)
	if err != nil {
		return 0, nil, err
	}
	defer stR.Close()
	if err := l.awaitStart(pid, bufio.NewReader(stR), false); err != nil {
		return 0, nil, err
	}
	rep := l.baseReport(mode, cfg)
	if mode == "landlock" {
		ll := landlockReport(abi)
		rep.Landlock = &ll
	}
	return pid, rep, nil
}

// spawn starts this binary as a stage, with the program's stdin and the launcher's stdout and stderr pipes,
// and sends it its config.
func (l *launcher) spawn(stage string, sys *syscall.SysProcAttr, cfg *stageConfig) (int, *os.File, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	stR, stW, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"preview-sandbox", stageArg, stage}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{l.stdin, l.outW.Fd(), l.errW.Fd(), cfgR.Fd(), stW.Fd()},
		Sys:   sys,
	})
	cfgR.Close()
	stW.Close()
	if err != nil {
		cfgW.Close()
		stR.Close()
		return 0, nil, err
	}
	// From now on the launcher is not dumpable: its /proc/<pid>/environ and memory belong to root and ptrace is
	// refused, even to a process of its own uid. Not earlier: a child inherits the flag until it executes, and
	// the uid_map of a new user namespace could not be written by a non-root launcher. The stage waits for its
	// config, so nothing runs before this.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		reap(pid)
		cfgW.Close()
		stR.Close()
		return 0, nil, fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
	}
	_ = json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close()
	return pid, stR, nil
}

// awaitStart reads a stage's status until the program runs or the stage fails; a failed stage is reaped.
func (l *launcher) awaitStart(pid int, r *bufio.Reader, ns bool) error {
	for {
		line, err := r.ReadString('\n')
		switch {
		case line == "ready\n":
			continue
		case line == "started\n":
			return nil
		case strings.HasPrefix(line, "error "):
			f := strings.SplitN(strings.TrimSpace(line), " ", 4)
			se := &stageError{kind: "setup", status: ExitRefused, msg: strings.TrimSpace(line)}
			if len(f) == 4 {
				se.kind, se.msg = f[1], f[3]
				se.status, _ = strconv.Atoi(f[2])
			}
			reap(pid)
			return se
		case err != nil:
			if !ns {
				return nil // the exec stage closed its end by executing the program
			}
			ws := reap(pid)
			return &stageError{kind: "setup", status: ExitRefused, msg: "init ended before the program started: " + describe(ws)}
		}
	}
}

func reap(pid int) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return ws
		}
	}
}

func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

func (l *launcher) trip(reason, message string) {
	l.tripOnce.Do(func() {
		l.reason, l.message = reason, message
		close(l.tripCh)
	})
}

func (l *launcher) tripped() bool {
	select {
	case <-l.tripCh:
		return true
	default:
		return false
	}
}

func (l *launcher) watch(stop <-chan struct{}) {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		u, err := measureTree(l.self)
		if err != nil {
			continue
		}
		cpu := l.reapedCPU() + float64(u.cpuTicks)/clockTicks
		l.lastCPU.Store(math.Float64bits(cpu))
		if u.rssBytes > l.peakRSS.Load() {
			l.peakRSS.Store(u.rssBytes)
		}
		switch {
		case u.procs > int(l.o.MaxProcs):
			l.trip(reasonProcs, fmt.Sprintf("process limit of %d reached (%d alive)", l.o.MaxProcs, u.procs))
		case u.rssBytes > l.o.MemoryBytes:
			l.trip(reasonMemory, fmt.Sprintf("memory limit of %d bytes reached (the tree held %d bytes resident)", l.o.MemoryBytes, u.rssBytes))
		case cpu >= float64(l.o.CPUSeconds):
			l.trip(reasonCPU, fmt.Sprintf("CPU time limit of %d s reached (the tree used %.2f s)", l.o.CPUSeconds, cpu))
		}
	}
}

// reapedCPU is the CPU time of the tree's processes already reaped, by the launcher or by a process the
// launcher reaped.
func (l *launcher) reapedCPU() float64 {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &ru)
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime) - l.cpuBase
}

func tvSeconds(tv unix.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// copyCapped copies src to dst until EOF, up to MaxOutput bytes; past that it trips the output limit and
// discards the rest (still reading, so that no writer blocks before the tree is killed).
func (l *launcher) copyCapped(dst *os.File, src *os.File, name string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer src.Close()
		buf := make([]byte, 64<<10)
		var n int64
		dstOK := true
		for {
			k, err := src.Read(buf)
			if k > 0 {
				if room := l.o.MaxOutput - n; room > 0 && dstOK {
					w := int64(k)
					if w > room {
						w = room
					}
					if _, werr := dst.Write(buf[:w]); werr != nil {
						dstOK = false
					}
				}
				n += int64(k)
				if n > l.o.MaxOutput {
					l.trip(reasonOutput, fmt.Sprintf("%s went over the output limit of %d bytes", name, l.o.MaxOutput))
				}
			}
			if err != nil {
				if err != io.EOF && !errors.Is(err, os.ErrClosed) {
					l.trip(reasonOutput, fmt.Sprintf("reading the program's %s: %v", name, err))
				}
				return
			}
		}
	}()
	return done
}

func (l *launcher) finish(ws unix.WaitStatus, survivors int) int {
	// In the namespaces mode processes killed with the namespace are reaped by no one who counts them: the last
	// sample is then the better figure.
	cpu := max(l.reapedCPU(), math.Float64frombits(l.lastCPU.Load()))
	exit := ExitReport{Event: "exit", CPUSeconds: round2(cpu), PeakRSSBytes: l.peakRSS.Load(),
		WallSeconds: round2(time.Since(l.t0).Seconds()), Survivors: survivors}
	code, sig := -1, -1
	l.exitMu.Lock()
	line := l.exitLine
	l.exitMu.Unlock()
	switch {
	case strings.HasPrefix(line, "exit code "):
		code, _ = strconv.Atoi(strings.TrimPrefix(line, "exit code "))
	case strings.HasPrefix(line, "exit signal "):
		sig, _ = strconv.Atoi(strings.TrimPrefix(line, "exit signal "))
	case ws.Exited():
		code = ws.ExitStatus()
	case ws.Signaled():
		sig = int(ws.Signal())
	}
	reason := l.reason
	if reason == "" && (sig == int(unix.SIGKILL) || sig == int(unix.SIGXCPU)) && cpu >= float64(l.o.CPUSeconds) {
		reason, l.message = reasonCPU, fmt.Sprintf("CPU time limit of %d s reached (the tree used %.2f s)", l.o.CPUSeconds, cpu)
	}
	switch {
	case reason == reasonTerminated:
		exit.Status = 128 + int(l.termSignal.Load())
	case reason != "":
		exit.Status = tripStatus[reason]
	case code >= 0:
		reason, exit.Status = reasonExited, code
	case sig >= 0:
		reason, exit.Status = reasonSignaled, 128+sig
	default:
		reason, exit.Status, l.message = reasonSignaled, ExitRefused, "the program's end was not seen"
	}
	exit.Reason, exit.Message = reason, l.message
	if code >= 0 {
		exit.ExitCode = &code
	}
	if sig >= 0 {
		exit.Signal = &sig
	}
	if l.message != "" {
		fmt.Fprintf(os.Stderr, "preview-sandbox: %s; killed the process tree\n", l.message)
	}
	if survivors > 0 {
		fmt.Fprintf(os.Stderr, "preview-sandbox: %d processes of the tree were still alive after 10 s of SIGKILL\n", survivors)
	}
	l.rep.write(exit)
	return exit.Status
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func (l *launcher) refuse(status int, reason string) int {
	fmt.Fprintf(os.Stderr, "preview-sandbox: nothing was run: %s\n", reason)
	l.rep.write(RefusedReport{Event: "refused", Status: status, Reason: reason})
	return status
}
