package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// nsFlags are the namespaces init is created in (cgroupFlag is dropped if the kernel refuses it alone).
const (
	nsFlags    = unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS
	cgroupFlag = unix.CLONE_NEWCGROUP
)

// Sizes of the tmpfs mounts: the root holds only directories, links and mount points; /tmp is the program's.
const (
	rootTmpfsOptions = "mode=0755,size=1m,nr_inodes=8192"
	tmpTmpfsOptions  = "mode=1777,size=64m,nr_inodes=16384"
)

// runInit is pid 1 of the new user, pid, mount, network, IPC, UTS (and cgroup) namespaces, uid 0 there (mapped
// to 65534 or the launcher's uid outside). It builds the new root, starts the exec stage, reaps every process
// re-parented to it, and exits when the program does: the kernel then kills whatever is left in the namespace.
func runInit() int {
	status := os.NewFile(fdStatus, "status")
	unix.CloseOnExec(fdStatus)
	// init keeps its capabilities in the namespace: the program (same uid inside, no capabilities) must not reach
	// its memory through /proc/1/mem and the like.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return statusError(status, "setup", ExitRefused, fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err))
	}
	cfg, err := readStageConfig()
	if err != nil {
		return statusError(status, "setup", ExitRefused, err)
	}
	if err := buildRoot(cfg); err != nil {
		return statusError(status, "setup", ExitRefused, err)
	}
	if err := loopbackUp(); err != nil {
		return statusError(status, "setup", ExitRefused, err)
	}
	if err := unix.Sethostname([]byte("sandbox")); err != nil {
		return statusError(status, "setup", ExitRefused, fmt.Errorf("sethostname: %w", err))
	}
	fmt.Fprintln(status, "ready")

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return statusError(status, "setup", ExitRefused, err)
	}
	stR, stW, err := os.Pipe()
	if err != nil {
		return statusError(status, "setup", ExitRefused, err)
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"preview-sandbox", stageArg, "exec"}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{0, 1, 2, cfgR.Fd(), stW.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	})
	cfgR.Close()
	stW.Close()
	if err != nil {
		return statusError(status, "setup", ExitRefused, fmt.Errorf("starting the exec stage: %w", err))
	}
	cfg.Mode = "namespaces"
	_ = json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close()
	// The exec stage reports an error, or closes its end by executing the program.
	line, _ := bufio.NewReader(stR).ReadString('\n')
	stR.Close()
	if strings.HasPrefix(line, "error ") {
		fmt.Fprint(status, line)
	} else {
		fmt.Fprintln(status, "started")
	}
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return statusError(status, "setup", ExitRefused, fmt.Errorf("wait: %w", err))
		}
		if wpid != pid {
			continue // a re-parented orphan
		}
		switch {
		case ws.Exited():
			fmt.Fprintf(status, "exit code %d\n", ws.ExitStatus())
			return ws.ExitStatus()
		case ws.Signaled():
			fmt.Fprintf(status, "exit signal %d\n", int(ws.Signal()))
			return 128 + int(ws.Signal())
		}
	}
}

// source is a detached copy of a host path, taken before the new root covers anything.
type source struct {
	fd     int
	target string
	dir    bool
}

// buildRoot makes a fresh root from a small tmpfs: --read paths bound read-only (and nosuid, nodev), --write
// paths read-write, /dev/null, zero, urandom and random, a private /proc, an empty /tmp; then pivot_root into it
// and detach the old one. Nothing else of the host is reachable.
func buildRoot(cfg *stageConfig) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	var sources []source
	defer func() {
		for _, s := range sources {
			unix.Close(s.fd)
		}
	}()
	clone := func(path string, attr uint64, dir bool) error {
		fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("open_tree(%s): %w", path, err)
		}
		sources = append(sources, source{fd: fd, target: path, dir: dir})
		a := unix.MountAttr{Attr_set: attr, Propagation: unix.MS_PRIVATE}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &a); err != nil {
			return fmt.Errorf("mount_setattr(%s): %w", path, err)
		}
		return nil
	}
	seen := map[string]bool{}
	for _, p := range cfg.Write {
		if !seen[p.Real] {
			seen[p.Real] = true
			if err := clone(p.Real, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, p.Dir); err != nil {
				return err
			}
		}
	}
	for _, p := range cfg.Read {
		if !seen[p.Real] {
			seen[p.Real] = true
			if err := clone(p.Real, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, p.Dir); err != nil {
				return err
			}
		}
	}
	var devs []source
	for _, d := range devFiles {
		attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC)
		if !d.writable {
			attr |= unix.MOUNT_ATTR_RDONLY
		}
		if err := clone(d.path, attr, false); err != nil {
			return err
		}
		devs = append(devs, sources[len(sources)-1])
		sources = sources[:len(sources)-1]
	}
	sources = append(sources, devs...)

	// Any directory would do as the new root's mount point; /tmp is everywhere, and the host's is no longer needed.
	const base = "/tmp"
	if err := unix.Mount("tmpfs", base, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, rootTmpfsOptions); err != nil {
		return fmt.Errorf("mounting the new root's tmpfs: %w", err)
	}
	root, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	for _, d := range []string{"dev", "proc", "tmp"} {
		if err := unix.Mkdirat(root, d, 0o755); err != nil {
			return fmt.Errorf("mkdir /%s: %w", d, err)
		}
	}
	// /proc while the host's is still mounted (the kernel mounts a new procfs only where a full one is visible)
	if err := unix.Mount("proc", base+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	// /tmp before the bind mounts, so that a --read or --write path under /tmp is mounted over it, not hidden
	if err := unix.Mount("tmpfs", base+"/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpTmpfsOptions); err != nil {
		return fmt.Errorf("mounting /tmp: %w", err)
	}
	// outer paths first, so that an inner path is mounted over the outer one
	sort.SliceStable(sources, func(i, j int) bool { return sources[i].target < sources[j].target })
	for _, s := range sources {
		if err := attach(root, s); err != nil {
			return err
		}
	}
	for _, p := range append(append([]Path{}, cfg.Read...), cfg.Write...) {
		for _, l := range p.Links {
			if err := mirrorLink(root, l); err != nil {
				return err
			}
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := mirrorLink(root, Link{Path: "/dev/" + name, Target: target}); err != nil {
			return err
		}
	}

	if err := unix.Chdir(base); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making the new root read-only: %w", err)
	}
	return nil
}

// openDirAt opens (creating as needed) dir below root, one component at a time, never following a link.
func openDirAt(root int, dir string) (int, error) {
	fd, err := unix.Dup(root)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		if c == "" {
			continue
		}
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("making %s in the new root: %s: %w", dir, c, err)
		}
		fd = next
	}
	return fd, nil
}

func attach(root int, s source) error {
	parent, err := openDirAt(root, filepath.Dir(s.target))
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	name := filepath.Base(s.target)
	if s.dir {
		err = unix.Mkdirat(parent, name, 0o755)
	} else {
		var fd int
		fd, err = unix.Openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("making the mount point %s: %w", s.target, err)
	}
	if err := unix.MoveMount(s.fd, "", parent, name, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mounting %s: %w", s.target, err)
	}
	return nil
}

// mirrorLink recreates a link of the host in the new root, unless its place is already taken (by the same link
// inside a bound directory).
func mirrorLink(root int, l Link) error {
	parent, err := openDirAt(root, filepath.Dir(l.Path))
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	name := filepath.Base(l.Path)
	var st unix.Stat_t
	if unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		return nil
	}
	if err := unix.Symlinkat(l.Target, parent, name); err != nil {
		return fmt.Errorf("making the link %s -> %s: %w", l.Path, l.Target, err)
	}
	return nil
}

// loopbackUp brings up lo, the new network namespace's only interface.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: SIOCGIFFLAGS: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: SIOCSIFFLAGS: %w", err)
	}
	return nil
}
