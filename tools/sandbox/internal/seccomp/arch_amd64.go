package seccomp

import "golang.org/x/sys/unix"

const (
	auditArch     = unix.AUDIT_ARCH_X86_64
	x32Bit        = 0x40000000 // __X32_SYSCALL_BIT
	argLowWord    = 0          // little-endian: the low half of a 64-bit argument comes first
	cloneFlagsArg = 0
)
