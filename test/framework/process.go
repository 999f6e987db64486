package framework

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a program the framework started, known by its PID. Its output
// goes to a log file, and its PID to a pid file so another process (such as
// `make local-down`) can stop it.
type Process struct {
	Name    string
	PID     int
	LogFile string
	PIDFile string

	cmd  *exec.Cmd
	done chan struct{}
}

// startProcess runs bin with args, logging to <dir>/logs/<name>.log and
// writing <dir>/<name>.pid. A detached process is put in a session of its own
// and outlives the caller; an attached one is killed if the caller dies.
func startProcess(dir, name, bin string, args []string, detached bool) (*Process, error) {
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	p := &Process{Name: name, LogFile: filepath.Join(logDir, name+".log"),
		PIDFile: filepath.Join(dir, name+".pid"), done: make(chan struct{})}
	logFile, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "==== %s %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if detached {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p.cmd, p.PID = cmd, cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(p.done) }()
	if err := os.WriteFile(p.PIDFile, []byte(strconv.Itoa(p.PID)+"\n"), 0o644); err != nil {
		_ = p.Stop(time.Second)
		return nil, err
	}
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to end by itself and returns
// its exit code; false if it is still running.
func (p *Process) Wait(timeout time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// CPUTime is the CPU time (user and system) the process has used: all of
// it once it has exited, so far while it runs.
func (p *Process) CPUTime() (time.Duration, error) {
	if p.Exited() {
		return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime(), nil
	}
	return PIDCPUTime(p.PID)
}

// PIDCPUTime is the CPU time (user and system) a running process has used,
// from /proc.
func PIDCPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after it. utime and stime are fields 14 and 15, in clock ticks of
	// 1/100 s (USER_HZ on every Linux architecture Go runs on).
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// ErrKilled is wrapped by Stop's error when the process did not exit within
// its grace period after SIGTERM and had to be killed: a server that hangs on
// SIGTERM fails the test that stops it.
var ErrKilled = errors.New("did not exit after SIGTERM and was killed")

// Stop sends SIGTERM to the process, waits up to grace for it to exit, then
// sends SIGKILL and returns an error wrapping ErrKilled. It removes the pid
// file. Stopping a process that has already exited is not an error.
func (p *Process) Stop(grace time.Duration) error {
	defer os.Remove(p.PIDFile)
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := p.Kill(); err != nil {
		return err
	}
	return fmt.Errorf("%s (pid %d) %w within %s", p.Name, p.PID, ErrKilled, grace)
}

// StopPIDFile stops the process whose PID is in pidFile, if it is still
// running: SIGTERM, then SIGKILL after grace (an error wrapping ErrKilled). A
// missing pid file is not an error, so stopping twice is fine.
func StopPIDFile(pidFile string, grace time.Duration) error {
	pid, err := ReadPIDFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer os.Remove(pidFile)
	if !PIDAlive(pid) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !PIDAlive(pid) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && PIDAlive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if PIDAlive(pid) {
		return fmt.Errorf("pid %d from %s did not exit after SIGKILL", pid, pidFile)
	}
	return fmt.Errorf("pid %d from %s %w within %s", pid, pidFile, ErrKilled, grace)
}

// ReadPIDFile returns the PID a pid file of the framework holds.
func ReadPIDFile(pidFile string) (int, error) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s holds no PID: %q", pidFile, data)
	}
	return pid, nil
}

// PIDAlive reports whether a process with this PID exists and is not a zombie.
func PIDAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// Tail returns the last n bytes of the process's log.
func (p *Process) Tail(n int64) string {
	return tailFile(p.LogFile, n)
}

func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(buf, off)
	return string(buf)
}

// Kill sends SIGKILL, as a crash would, and waits for the process to exit.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.PID)
	}
}
