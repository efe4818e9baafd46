package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"previewbot.local/tools/sandbox/internal/seccomp"
)

// runExecStage is the last step before the program: started by the launcher (landlock, none) or by init
// (namespaces), it locks itself in and executes the program, from this thread (main.go locks it), so that every
// per-thread setting reaches the program.
func runExecStage() int {
	status := os.NewFile(fdStatus, "status")
	unix.CloseOnExec(fdStatus)
	cfg, err := readStageConfig()
	if err != nil {
		return statusError(status, "setup", ExitRefused, err)
	}
	if err := lockIn(cfg); err != nil {
		return statusError(status, "setup", ExitRefused, err)
	}
	if err := unix.Chdir(cfg.Cwd); err != nil {
		return statusError(status, "usage", ExitRefused, fmt.Errorf("--cwd %s is not reachable in the sandbox: %w", cfg.Cwd, err))
	}
	path, err := lookPath(cfg.Argv[0], cfg.Env)
	if err == nil {
		// Only stdin, stdout and stderr cross into the program.
		_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
		err = unix.Exec(path, cfg.Argv, cfg.Env)
	}
	code := ExitNotExecutable
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		code = ExitNotFound
	}
	return statusError(status, "exec", code, fmt.Errorf("%s: %w", cfg.Argv[0], err))
}

// lockIn applies everything but the working directory: limits, then the mode's confinement, then the seccomp
// filter (last: it refuses system calls that the steps before it make).
func lockIn(cfg *stageConfig) error {
	// The watchdog outside enforces the tree's total; this per-process limit is a backstop for a single
	// process, one second later (SIGKILL at the hard limit).
	cpu := uint64(cfg.CPUSeconds + 1)
	if err := unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: cpu, Max: cpu}); err != nil {
		return fmt.Errorf("setrlimit(RLIMIT_CPU): %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("setrlimit(RLIMIT_CORE): %w", err)
	}
	// the kernel's OOM killer takes the sandboxed program before anything else
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	switch cfg.Mode {
	case "namespaces":
		if err := dropCapabilities(); err != nil {
			return err
		}
	case "landlock":
		if err := restrictLandlock(cfg.LandlockABI, cfg.Read, cfg.Write); err != nil {
			return err
		}
		if err := dropIDs(cfg.DropUID, cfg.DropGID); err != nil {
			return err
		}
	case "none":
		if err := dropIDs(cfg.DropUID, cfg.DropGID); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown mode %q", cfg.Mode)
	}
	// Changing credentials clears the parent-death signal: set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", err)
	}
	if err := seccomp.Install(seccomp.Sandbox(cfg.UnixSockets)); err != nil {
		return err
	}
	return nil
}

// dropIDs becomes uid/gid (65534 when the launcher runs as root) with no supplementary groups; a uid change away
// from 0 clears every capability. The bounding set goes first, while it still can.
func dropIDs(uid, gid int) error {
	if uid < 0 {
		return clearAmbient()
	}
	dropBoundingSet()
	if err := syscall.Setgroups([]int{}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("setresgid(%d): %w", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setresuid(%d): %w", uid, err)
	}
	return clearAmbient()
}

func clearAmbient() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	return nil
}

func dropBoundingSet() {
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err == unix.EINVAL {
			break // past the kernel's last capability
		}
	}
}

// Securebits (linux/securebits.h): root is not special on execve, and that cannot be undone.
const (
	secbitNoroot                  = 1 << 0
	secbitNorootLocked            = 1 << 1
	secbitNoSetuidFixup           = 1 << 2
	secbitNoSetuidFixupLocked     = 1 << 3
	secbitKeepCapsLocked          = 1 << 5
	secbitNoCapAmbientRaise       = 1 << 6
	secbitNoCapAmbientRaiseLocked = 1 << 7
)

// dropCapabilities: inside the user namespace the program is uid 0 (the only mapped id); it keeps no
// capability, and gets none back on execve.
func dropCapabilities() error {
	bits := secbitNoroot | secbitNorootLocked | secbitNoSetuidFixup | secbitNoSetuidFixupLocked |
		secbitKeepCapsLocked | secbitNoCapAmbientRaise | secbitNoCapAmbientRaiseLocked
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(bits), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_SECUREBITS): %w", err)
	}
	dropBoundingSet()
	if err := clearAmbient(); err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// lookPath finds a program as execvp does, in the PATH of the program's own environment (not the launcher's).
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" || path == "" {
			continue
		}
		p := dir + "/" + file
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in the PATH given with --env (%q): %w", path, unix.ENOENT)
}
