package main

// Exit statuses of the launcher. Otherwise it exits with the program's own status, or 128+N when the program was
// killed by signal N. The report's exit line says which case it was (a program can exit 124 by itself).
const (
	ExitProcs         = 120 // more processes at once than --max-procs
	ExitCPU           = 121 // the tree used more CPU time than --cpu-seconds
	ExitMemory        = 122 // the tree's resident memory went over --memory-bytes
	ExitOutput        = 123 // stdout or stderr went over --max-output
	ExitTimeout       = 124 // --wall-seconds passed (as timeout(1))
	ExitRefused       = 125 // nothing was run: bad flags, no isolation available, or the sandbox could not be set up
	ExitNotExecutable = 126 // the program exists but could not be executed (as a shell)
	ExitNotFound      = 127 // the program was not found (as a shell)
)

// reasons, as written in the report's exit line
const (
	reasonExited     = "exited"
	reasonSignaled   = "signaled"
	reasonProcs      = "procs"
	reasonCPU        = "cpu"
	reasonMemory     = "memory"
	reasonOutput     = "output"
	reasonTimeout    = "timeout"
	reasonTerminated = "terminated" // the launcher itself got SIGTERM, SIGINT or SIGHUP
)

var tripStatus = map[string]int{
	reasonProcs: ExitProcs, reasonCPU: ExitCPU, reasonMemory: ExitMemory, reasonOutput: ExitOutput,
	reasonTimeout: ExitTimeout,
}
