package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The process tree is read from /proc: this kernel has no /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN),
// so each scan reads every process's stat line and follows parent links down from the launcher. The launcher is a
// child subreaper, so a process whose parent died (a double fork, setsid or not) is re-parented to it and stays in
// the tree.

type procInfo struct {
	pid, ppid int
	state     byte
	cpuTicks  uint64 // utime + stime + cutime + cstime
	rssPages  int64
	start     uint64 // start time since boot, in ticks: with the pid, names one process for good
}

const clockTicks = 100 // USER_HZ, fixed at 100 on Linux's user-space interface

var pageSize = int64(os.Getpagesize())

// parseStat reads /proc/<pid>/stat. The command name is in parentheses and may itself hold ")" and spaces, so the
// fields are counted from the last ")".
func parseStat(b []byte) (procInfo, error) {
	var p procInfo
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return p, fmt.Errorf("malformed stat line")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return p, err
	}
	f := bytes.Fields(b[end+1:])
	if len(f) < 22 || len(f[0]) != 1 {
		return p, fmt.Errorf("malformed stat line")
	}
	num := func(i int) uint64 { n, _ := strconv.ParseUint(string(f[i]), 10, 64); return n }
	ppid, _ := strconv.Atoi(string(f[1]))
	p = procInfo{pid: pid, ppid: ppid, state: f[0][0], cpuTicks: num(11) + num(12) + num(13) + num(14),
		rssPages: int64(num(21)), start: num(19)}
	return p, nil
}

func readStat(pid int, buf []byte) (procInfo, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return procInfo{}, err
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return procInfo{}, err
	}
	return parseStat(buf[:n])
}

// descendants returns every process below root (zombies included), one /proc scan.
func descendants(root int) ([]procInfo, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1024)
	children := map[int][]procInfo{}
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		p, err := readStat(pid, buf)
		if err != nil {
			continue // gone since the directory was read
		}
		children[p.ppid] = append(children[p.ppid], p)
	}
	var out []procInfo
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out, nil
}

// killProc sends SIGKILL to p if the pid still names the same process (a pidfd pins it; the start time proves
// that the pid was not reused between the scan and the kill).
func killProc(p procInfo) {
	pidfd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		return // gone
	}
	defer unix.Close(pidfd)
	now, err := readStat(p.pid, make([]byte, 1024))
	if err != nil || now.start != p.start {
		return
	}
	_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
}

// killTree kills every descendant of root until none is left alive (a process that forks while the tree is
// being killed is caught by a later scan). Zombies are left to the reaper. It gives up after bound, returning
// the survivors' count (a process stuck in the kernel cannot be killed until it returns).
func killTree(root int, bound time.Duration) int {
	deadline := time.Now().Add(bound)
	pause := time.Millisecond
	for {
		all, err := descendants(root)
		if err != nil {
			return -1
		}
		alive := 0
		for _, p := range all {
			if p.state != 'Z' && p.state != 'X' {
				alive++
				killProc(p)
			}
		}
		if alive == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			return alive
		}
		time.Sleep(pause) // SIGKILL is delivered asynchronously: look again shortly
		if pause < 50*time.Millisecond {
			pause *= 2
		}
	}
}

// treeUsage sums the tree's CPU time (live and zombie processes, plus what each has reaped) and resident memory,
// and counts its live processes.
type treeUsage struct {
	cpuTicks uint64
	rssBytes int64
	procs    int
}

func measureTree(root int) (treeUsage, error) {
	all, err := descendants(root)
	if err != nil {
		return treeUsage{}, err
	}
	var u treeUsage
	for _, p := range all {
		u.cpuTicks += p.cpuTicks
		if p.state != 'Z' && p.state != 'X' {
			u.rssBytes += p.rssPages * pageSize
			u.procs++
		}
	}
	return u, nil
}
