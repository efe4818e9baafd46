// Command preview-sandbox runs one program with no view of anything it was not given: the renderer's process
// sandbox (issue 20). See README.md for the interface, the exit statuses and the report.
//
// One binary plays three parts. Run by a person or the bot it is the launcher (launcher.go), which stays outside
// the sandbox to enforce the limits and end the process tree. The launcher re-executes itself as "init"
// (nsinit.go, pid 1 of fresh namespaces) or directly as the "exec" stage (execstage.go), which locks itself in
// and then executes the program.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func init() {
	// The exec stage changes per-thread state (capabilities, no_new_privs, Landlock, seccomp) and then executes the
	// program from the same thread; the launcher starts children from the main thread, so that their
	// parent-death signal is tied to a thread that lives as long as the process.
	runtime.LockOSThread()
}

// stageArg is argv[1] of the launcher's own re-executions; argv[2] names the stage.
const stageArg = "__preview-sandbox-stage"

func main() {
	if len(os.Args) == 3 && os.Args[1] == stageArg {
		switch os.Args[2] {
		case "init":
			os.Exit(runInit())
		case "exec":
			os.Exit(runExecStage())
		}
	}
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		if err == errHelp {
			fmt.Fprint(os.Stdout, usage)
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "preview-sandbox: %v\n(run preview-sandbox --help for the flags)\n", err)
		os.Exit(ExitRefused)
	}
	os.Exit(launch(opts))
}
