package seccomp

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The filter is installed in a child process (this test binary re-run with SECCOMP_TEST_CHILD set): a filter
// cannot be removed, so it must not land in the test process itself.
func TestMain(m *testing.M) {
	switch os.Getenv("SECCOMP_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "sandbox":
		child(Sandbox(true))
	case "sandbox-no-sockets":
		child(Sandbox(false))
	case "deny-namespaces":
		child(DenyNamespaces())
	}
}

// child installs rules, then tries each system call and prints name=errno lines.
func child(rules []Rule) {
	if err := Install(rules); err != nil {
		os.Stdout.WriteString("install=" + err.Error() + "\n")
		os.Exit(1)
	}
	try := func(name string, err error) {
		s := "ok"
		if err != nil {
			var e unix.Errno
			if errors.As(err, &e) {
				s = unix.ErrnoName(e)
			} else {
				s = err.Error()
			}
		}
		os.Stdout.WriteString(name + "=" + s + "\n")
	}
	sock := func(family, typ int) error {
		fd, err := unix.Socket(family, typ, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}
	try("inet", sock(unix.AF_INET, unix.SOCK_STREAM))
	try("inet-udp", sock(unix.AF_INET, unix.SOCK_DGRAM))
	try("inet6", sock(unix.AF_INET6, unix.SOCK_DGRAM))
	try("netlink", sock(unix.AF_NETLINK, unix.SOCK_RAW))
	try("packet", sock(unix.AF_PACKET, unix.SOCK_RAW))
	try("unix", sock(unix.AF_UNIX, unix.SOCK_STREAM))
	_, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	try("socketpair", err)
	_, _, e := unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, uintptr(os.Getppid()), 0)
	try("ptrace", errnoOrNil(e))
	_, _, e = unix.RawSyscall6(unix.SYS_PROCESS_VM_READV, uintptr(os.Getppid()), 0, 0, 0, 0, 0)
	try("process_vm_readv", errnoOrNil(e))
	try("unshare", unix.Unshare(unix.CLONE_NEWUSER))
	_, _, e = unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	try("clone-newuser", errnoOrNil(e))
	_, _, e = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	try("clone3", errnoOrNil(e))
	try("getpid", nil)
	os.Exit(0)
}

func errnoOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func run(t *testing.T, mode string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SECCOMP_TEST_CHILD="+mode)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v: %s", mode, err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	return got
}

func expect(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestSandboxRefusesNetworkSocketsAndTracing(t *testing.T) {
	expect(t, run(t, "sandbox"), map[string]string{
		"inet": "EAFNOSUPPORT", "inet-udp": "EAFNOSUPPORT", "inet6": "EAFNOSUPPORT", "netlink": "EAFNOSUPPORT",
		"packet": "EAFNOSUPPORT", "unix": "ok", "socketpair": "ok", "ptrace": "EPERM", "process_vm_readv": "EPERM",
		"unshare": "EPERM", "clone-newuser": "EPERM", "clone3": "ENOSYS", "getpid": "ok",
	})
}

func TestSandboxWithoutSocketsRefusesUnixToo(t *testing.T) {
	expect(t, run(t, "sandbox-no-sockets"), map[string]string{"unix": "EAFNOSUPPORT", "socketpair": "ok", "inet": "EAFNOSUPPORT"})
}

func TestDenyNamespacesLeavesSocketsAlone(t *testing.T) {
	expect(t, run(t, "deny-namespaces"), map[string]string{
		"unshare": "EPERM", "clone-newuser": "EPERM", "clone3": "ENOSYS", "inet": "ok", "unix": "ok",
	})
}

func TestAssembleRefusesBadRules(t *testing.T) {
	if _, err := Assemble([]Rule{{Name: "x", Nr: 1, Errno: 0}}); err == nil {
		t.Error("errno 0 accepted")
	}
	if _, err := Assemble([]Rule{{Name: "x", Nr: 1, Match: ArgEq, Arg: 6, Errno: unix.EPERM}}); err == nil {
		t.Error("argument 6 accepted")
	}
}
