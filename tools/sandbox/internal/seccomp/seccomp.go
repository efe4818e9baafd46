// Package seccomp assembles classic-BPF seccomp filters with golang.org/x/sys/unix (no libseccomp) and installs
// them with seccomp(SECCOMP_SET_MODE_FILTER). A filter is a list of rules, each refusing one system call with an
// errno, optionally only when one 32-bit argument matches; everything else is allowed. A system call made with
// another architecture's calling convention (x32 or 32-bit compatibility) is refused outright, so no rule can be
// side-stepped through a second system call table.
package seccomp

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Match says when a rule applies, from one argument's low 32 bits (the kernel reads int and flag arguments as
// 32-bit values, so the high half cannot change the system call's meaning).
type Match int

const (
	Always     Match = iota // every call
	ArgEq                   // args[Arg] == Value
	ArgNe                   // args[Arg] != Value
	ArgAnyBits              // args[Arg] & Value != 0
)

// Rule refuses system call Nr with Errno when Match holds.
type Rule struct {
	Name  string // for messages and the report
	Nr    uintptr
	Match Match
	Arg   int
	Value uint32
	Errno syscall.Errno
}

// offsets in struct seccomp_data
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

const (
	ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeqK = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jgeK = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	ret  = unix.BPF_RET | unix.BPF_K
)

// Assemble turns rules into a BPF program for this architecture.
func Assemble(rules []Rule) ([]unix.SockFilter, error) {
	if auditArch == 0 {
		return nil, fmt.Errorf("seccomp: no filter for architecture %s", runtime.GOARCH)
	}
	p := []unix.SockFilter{
		stmt(ldW, offArch),
		jump(jeqK, auditArch, 1, 0),
		stmt(ret, unix.SECCOMP_RET_KILL_PROCESS),
		stmt(ldW, offNr),
	}
	if x32Bit != 0 { // x86_64: the x32 table shares the architecture value; its numbers carry this bit
		p = append(p, jump(jgeK, x32Bit, 0, 1), stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM)))
	}
	for _, r := range rules {
		if r.Errno == 0 || r.Errno > 0xffff {
			return nil, fmt.Errorf("seccomp: rule %s: errno %d out of range", r.Name, r.Errno)
		}
		refuse := stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(r.Errno))
		switch r.Match {
		case Always:
			// if nr == Nr { return errno }
			p = append(p, jump(jeqK, uint32(r.Nr), 0, 1), refuse)
		case ArgEq, ArgNe, ArgAnyBits:
			if r.Arg < 0 || r.Arg > 5 {
				return nil, fmt.Errorf("seccomp: rule %s: argument %d out of range", r.Name, r.Arg)
			}
			// if nr != Nr skip 4; A = arg; test; return errno; reload nr
			var test unix.SockFilter
			switch r.Match {
			case ArgEq:
				test = jump(jeqK, r.Value, 0, 1)
			case ArgNe:
				test = jump(jeqK, r.Value, 1, 0)
			default:
				test = jump(jset, r.Value, 0, 1)
			}
			p = append(p,
				jump(jeqK, uint32(r.Nr), 0, 4),
				stmt(ldW, uint32(offArgs+8*r.Arg)+argLowWord),
				test,
				refuse,
				stmt(ldW, offNr),
			)
		default:
			return nil, fmt.Errorf("seccomp: rule %s: unknown match %d", r.Name, r.Match)
		}
	}
	p = append(p, stmt(ret, unix.SECCOMP_RET_ALLOW))
	if len(p) > 4096 {
		return nil, fmt.Errorf("seccomp: filter of %d instructions is too long", len(p))
	}
	return p, nil
}

// Install sets no_new_privs and installs the filter on every thread of the process (TSYNC). It holds for the
// process and everything it executes or forks from then on; it cannot be removed.
func Install(rules []Rule) error {
	prog, err := Assemble(rules)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("seccomp: prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("seccomp: seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	}
	return nil
}

// Namespace flags that clone(2) accepts (CLONE_NEWTIME shares its bit with the exit signal there, as in Docker's
// default profile).
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// DenyNamespaces refuses what a container runtime's default profile refuses to a process without CAP_SYS_ADMIN:
// unshare, setns, clone with namespace flags (EPERM), and clone3 (ENOSYS, so libraries fall back to clone, whose
// flags a filter can read).
func DenyNamespaces() []Rule {
	return []Rule{
		{Name: "unshare", Nr: unix.SYS_UNSHARE, Errno: unix.EPERM},
		{Name: "setns", Nr: unix.SYS_SETNS, Errno: unix.EPERM},
		{Name: "clone(CLONE_NEW*)", Nr: unix.SYS_CLONE, Match: ArgAnyBits, Arg: cloneFlagsArg, Value: cloneNamespaceFlags, Errno: unix.EPERM},
		{Name: "clone3", Nr: unix.SYS_CLONE3, Errno: unix.ENOSYS},
	}
}

// DenyLandlock makes Landlock look absent (ENOSYS), as on a kernel built without it.
func DenyLandlock() []Rule {
	return []Rule{
		{Name: "landlock_create_ruleset", Nr: unix.SYS_LANDLOCK_CREATE_RULESET, Errno: unix.ENOSYS},
		{Name: "landlock_add_rule", Nr: unix.SYS_LANDLOCK_ADD_RULE, Errno: unix.ENOSYS},
		{Name: "landlock_restrict_self", Nr: unix.SYS_LANDLOCK_RESTRICT_SELF, Errno: unix.ENOSYS},
	}
}

// Sandbox is the filter a sandboxed program runs under. With unixSockets false, socket(2) is refused for every
// family (socketpair stays, so pipes between a program's own processes work).
func Sandbox(unixSockets bool) []Rule {
	rules := []Rule{}
	if unixSockets {
		rules = append(rules, Rule{Name: "socket(not AF_UNIX)", Nr: unix.SYS_SOCKET, Match: ArgNe, Arg: 0, Value: unix.AF_UNIX, Errno: unix.EAFNOSUPPORT})
	} else {
		rules = append(rules, Rule{Name: "socket", Nr: unix.SYS_SOCKET, Errno: unix.EAFNOSUPPORT})
	}
	rules = append(rules,
		// io_uring can open sockets and files without passing through these rules.
		Rule{Name: "io_uring_setup", Nr: unix.SYS_IO_URING_SETUP, Errno: unix.ENOSYS},
		Rule{Name: "io_uring_enter", Nr: unix.SYS_IO_URING_ENTER, Errno: unix.ENOSYS},
		Rule{Name: "io_uring_register", Nr: unix.SYS_IO_URING_REGISTER, Errno: unix.ENOSYS},
		Rule{Name: "ptrace", Nr: unix.SYS_PTRACE, Errno: unix.EPERM},
		Rule{Name: "process_vm_readv", Nr: unix.SYS_PROCESS_VM_READV, Errno: unix.EPERM},
		Rule{Name: "process_vm_writev", Nr: unix.SYS_PROCESS_VM_WRITEV, Errno: unix.EPERM},
		Rule{Name: "pidfd_getfd", Nr: unix.SYS_PIDFD_GETFD, Errno: unix.EPERM},
		Rule{Name: "keyctl", Nr: unix.SYS_KEYCTL, Errno: unix.EPERM},
		Rule{Name: "add_key", Nr: unix.SYS_ADD_KEY, Errno: unix.EPERM},
		Rule{Name: "request_key", Nr: unix.SYS_REQUEST_KEY, Errno: unix.EPERM},
		Rule{Name: "bpf", Nr: unix.SYS_BPF, Errno: unix.EPERM},
		Rule{Name: "perf_event_open", Nr: unix.SYS_PERF_EVENT_OPEN, Errno: unix.EPERM},
		Rule{Name: "userfaultfd", Nr: unix.SYS_USERFAULTFD, Errno: unix.EPERM},
		Rule{Name: "ioctl(TIOCSTI)", Nr: unix.SYS_IOCTL, Match: ArgEq, Arg: 1, Value: unix.TIOCSTI, Errno: unix.EPERM},
		Rule{Name: "ioctl(TIOCLINUX)", Nr: unix.SYS_IOCTL, Match: ArgEq, Arg: 1, Value: unix.TIOCLINUX, Errno: unix.EPERM},
		Rule{Name: "mount", Nr: unix.SYS_MOUNT, Errno: unix.EPERM},
		Rule{Name: "umount2", Nr: unix.SYS_UMOUNT2, Errno: unix.EPERM},
		Rule{Name: "pivot_root", Nr: unix.SYS_PIVOT_ROOT, Errno: unix.EPERM},
		Rule{Name: "open_tree", Nr: unix.SYS_OPEN_TREE, Errno: unix.EPERM},
		Rule{Name: "move_mount", Nr: unix.SYS_MOVE_MOUNT, Errno: unix.EPERM},
		Rule{Name: "fsopen", Nr: unix.SYS_FSOPEN, Errno: unix.EPERM},
		Rule{Name: "fsmount", Nr: unix.SYS_FSMOUNT, Errno: unix.EPERM},
		Rule{Name: "fspick", Nr: unix.SYS_FSPICK, Errno: unix.EPERM},
	)
	return append(rules, DenyNamespaces()...)
}

// Names lists the rules' names, for the report.
func Names(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.Name
	}
	return out
}
