package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/leaderhub/leaderhub/test/framework"
)

// rssBytes reads a process's resident set size.
func rssBytes(pid int) (int64, error) { return procStatus(pid, "VmRSS") }

// procStatus reads one size field of /proc/<pid>/status (VmRSS, RssAnon,
// RssFile), in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", field, pid)
}

// rssParts is a process's RSS split into anonymous memory (Go heap, stacks,
// runtime) and file-backed pages (the binary's code and data read so far).
// peak is the high-water mark of the RSS so far.
type rssParts struct{ total, anon, file, peak int64 }

// settledRSSParts waits for the RSS to settle, then reads its parts.
func settledRSSParts(pid int) rssParts {
	total := settledRSS(pid)
	anon, _ := procStatus(pid, "RssAnon")
	file, _ := procStatus(pid, "RssFile")
	peak, _ := procStatus(pid, "VmHWM")
	return rssParts{total: total, anon: anon, file: file, peak: peak}
}

// settledRSS waits for a process's RSS to stop moving, then returns it.
// After a GC the Go runtime returns freed pages to the OS in the background,
// at a paced rate, for several seconds; the RSS counts as settled when it
// moved less than 128 KiB over the last 3 seconds (at most a minute).
func settledRSS(pid int) int64 {
	const window, still = 3, 128 * 1024
	var samples []int64
	for i := 0; i < 60; i++ {
		rss, err := rssBytes(pid)
		if err != nil {
			return 0
		}
		samples = append(samples, rss)
		if n := len(samples); n > window && abs(samples[n-1]-samples[n-1-window]) < still {
			return rss
		}
		time.Sleep(time.Second)
	}
	return samples[len(samples)-1]
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// machine describes where the numbers were measured.
func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "unknown memory"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if line, _, ok := strings.Cut(string(data), "\n"); ok {
			if kb, err := strconv.ParseInt(strings.Fields(line)[1], 10, 64); err == nil {
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s memory, %s/%s, %s", runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// cpuSeconds reads the CPU time (user and system) a process has used.
func cpuSeconds(pid int) (float64, error) {
	d, err := framework.PIDCPUTime(pid)
	return d.Seconds(), err
}

// clockTicksPerSecond is USER_HZ, 100 on every Linux architecture Go runs on.
const clockTicksPerSecond = 100

// machineBusySeconds is the CPU time all cores have spent not idle since
// boot, from /proc/stat.
func machineBusySeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	// cpu user nice system idle iowait irq softirq steal [guest guest_nice,
	// already counted in user and nice]
	fields := strings.Fields(line)
	if len(fields) < 9 {
		return 0
	}
	var busy float64
	for i, f := range fields[1:9] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy / clockTicksPerSecond
}
