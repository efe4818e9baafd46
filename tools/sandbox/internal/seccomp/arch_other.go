//go:build !amd64 && !arm64

package seccomp

// No filter is assembled on other architectures: Assemble refuses, so the sandbox says so instead of running
// without one.
const (
	auditArch     = 0
	x32Bit        = 0
	argLowWord    = 0
	cloneFlagsArg = 0
)
