// Command deny-unshare runs a program the way a Kubernetes pod with the RuntimeDefault seccomp profile and no
// capabilities would: unshare, setns and clone with namespace flags refused (EPERM), clone3 refused (ENOSYS),
// no_new_privs set, and optionally as a given non-root uid/gid (runAsUser). It exists for the sandbox's tests:
// they prove that preview-sandbox falls back to Landlock where namespaces are refused, without a cluster.
//
//	deny-unshare [--uid N --gid N] [--deny-landlock] [--allow-unshare] -- <program> [args...]
//
// --deny-landlock also makes Landlock look absent (ENOSYS), as on a kernel without it; --allow-unshare keeps
// namespaces allowed (to run a program as an unprivileged uid where user namespaces are permitted).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
	"previewbot.local/tools/sandbox/internal/seccomp"
)

func init() { runtime.LockOSThread() }

func main() {
	uid := flag.Int("uid", -1, "run as this uid (needs root)")
	gid := flag.Int("gid", -1, "run as this gid (default: the uid)")
	denyLandlock := flag.Bool("deny-landlock", false, "make Landlock look absent too")
	allowUnshare := flag.Bool("allow-unshare", false, "do not refuse namespaces")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fail("no program given: deny-unshare [flags] -- <program> [args...]")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fail(err.Error())
	}
	if *uid >= 0 {
		g := *gid
		if g < 0 {
			g = *uid
		}
		if err := syscall.Setgroups([]int{}); err != nil {
			fail("setgroups: " + err.Error())
		}
		if err := syscall.Setresgid(g, g, g); err != nil {
			fail("setresgid: " + err.Error())
		}
		if err := syscall.Setresuid(*uid, *uid, *uid); err != nil {
			fail("setresuid: " + err.Error())
		}
	}
	var rules []seccomp.Rule
	if !*allowUnshare {
		rules = append(rules, seccomp.DenyNamespaces()...)
	}
	if *denyLandlock {
		rules = append(rules, seccomp.DenyLandlock()...)
	}
	if len(rules) > 0 {
		if err := seccomp.Install(rules); err != nil {
			fail(err.Error())
		}
	} else if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail("prctl(PR_SET_NO_NEW_PRIVS): " + err.Error())
	}
	fail(fmt.Sprintf("exec %s: %v", path, syscall.Exec(path, args, os.Environ())))
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "deny-unshare: "+msg)
	os.Exit(125)
}
