package main

import (
	"encoding/json"
	"os"
	"sync"
)

// The report: JSON lines on --report-fd, one "start" line once the program runs inside its isolation, one
// "exit" line at the end (or one "refused" line when nothing ran). The exit line, unlike the exit status, cannot
// be forged by the program.

type StartReport struct {
	Event       string            `json:"event"`     // "start"
	Isolation   string            `json:"isolation"` // namespaces | landlock | none
	Requested   string            `json:"requested"` // the --isolation asked for
	Fallback    string            `json:"fallback,omitempty"`
	Warning     string            `json:"warning,omitempty"`
	Namespaces  *NamespacesReport `json:"namespaces"` // null unless isolation is namespaces
	Landlock    *LandlockReport   `json:"landlock"`   // null unless isolation is landlock
	Seccomp     SeccompReport     `json:"seccomp"`
	NoNewPrivs  bool              `json:"noNewPrivs"`
	UID         int               `json:"uid"` // as the host sees the program
	GID         int               `json:"gid"`
	UIDInside   *int              `json:"uidInside,omitempty"`
	Groups      []int             `json:"groups"` // supplementary groups, as the host sees them
	Caps        string            `json:"capabilities"`
	Limits      LimitsReport      `json:"limits"`
	LauncherPID int               `json:"launcherPid"`
	PID         int               `json:"pid"` // the launcher's child: init (namespaces) or the program
}

type NamespacesReport struct {
	User    bool   `json:"user"`
	PID     bool   `json:"pid"`
	Mount   bool   `json:"mount"`
	Net     bool   `json:"net"`
	IPC     bool   `json:"ipc"`
	UTS     bool   `json:"uts"`
	Cgroup  bool   `json:"cgroup"`
	Root    string `json:"root"`
	Network string `json:"network"`
}

type SeccompReport struct {
	Enforced bool     `json:"enforced"`
	Refuses  []string `json:"refuses"`
}

type LimitsReport struct {
	CPUSeconds     int64  `json:"cpuSeconds"`
	MemoryBytes    int64  `json:"memoryBytes"`
	WallSeconds    int64  `json:"wallSeconds"`
	MaxOutputBytes int64  `json:"maxOutputBytes"`
	MaxProcs       int64  `json:"maxProcs"`
	How            string `json:"how"`
}

type ExitReport struct {
	Event        string  `json:"event"`  // "exit"
	Reason       string  `json:"reason"` // exited signaled cpu memory output timeout procs terminated
	Status       int     `json:"status"` // the launcher's exit status
	ExitCode     *int    `json:"exitCode,omitempty"`
	Signal       *int    `json:"signal,omitempty"`
	Message      string  `json:"message,omitempty"`
	CPUSeconds   float64 `json:"cpuSeconds"`
	PeakRSSBytes int64   `json:"peakRssBytes"`
	WallSeconds  float64 `json:"wallSeconds"`
	Survivors    int     `json:"survivors"` // processes still alive after the tree was killed (0 unless stuck)
}

type RefusedReport struct {
	Event  string `json:"event"` // "refused"
	Status int    `json:"status"`
	Reason string `json:"reason"`
}

type reporter struct {
	mu sync.Mutex
	f  *os.File // nil: no --report-fd
}

func (r *reporter) write(v any) {
	if r.f == nil {
		return
	}
	b, _ := json.Marshal(v)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.f.Write(append(b, '\n'))
}
