package main

import (
	"bufio"
	"context"
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

// buildBot compiles the bot as the Dockerfile does (static, no cgo, stripped), so memory and
// latency are the shipped binary's: a cgo build also maps the C library, ~2 MB more RSS.
func buildBot(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "orgtoken-bot")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/orgtoken/orgtoken-bot/cmd/orgtoken-bot")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/orgtoken-bot (run from inside the module, or pass -bin): %w\n%s", err, out)
	}
	return bin, nil
}

// botProcess is the running bot.
type botProcess struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
}

// startBot runs bin in dir with exactly env (nothing inherited but PATH), logging to a file.
func startBot(bin, dir string, env map[string]string) (*botProcess, error) {
	logPath := filepath.Join(dir, "bot.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &botProcess{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *botProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the bot to shut down (SIGTERM), and kills it if it has not within grace.
func (p *botProcess) stop(grace time.Duration) error {
	if p.exited() {
		return p.waitErr
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("the bot did not stop within %v of SIGTERM and was killed", grace)
	}
}

// logTail is the end of the bot's log, for error messages.
func (p *botProcess) logTail(lines int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// memory is the bot's resident set now and its high-water mark, from /proc (Linux only). file
// is the part mapped from files (the binary's own code and data pages), anon the rest.
type memory struct{ rss, peak, file, anon int64 } // bytes

var errNoProc = errors.New("process memory is only available on Linux (/proc)")

func (p *botProcess) memory() (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return memory{}, errNoProc
	}
	defer func() { _ = f.Close() }()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "VmRSS":
			m.rss = kilobytes(val)
		case "VmHWM":
			m.peak = kilobytes(val)
		case "RssFile":
			m.file = kilobytes(val)
		case "RssAnon":
			m.anon = kilobytes(val)
		}
	}
	if m.rss == 0 {
		return m, errNoProc
	}
	return m, sc.Err()
}

func kilobytes(field string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(field), " kB"), 10, 64)
	return n * 1024
}

// cpuTime is the user plus system CPU the process has used so far, from /proc (Linux only).
func (p *botProcess) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, errNoProc
	}
	// Fields after the parenthesised command name; utime and stime are the 12th and 13th.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, errNoProc
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errNoProc
	}
	// Linux reports clock ticks of USER_HZ, 100 a second on every mainstream architecture.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// selfCPUTime is the CPU this process (driver and both emulators) has used so far.
func selfCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the whole machine's CPU account so far, from the "cpu" line of /proc/stat
// (Linux only): busy is every state but idle and iowait, stolen is time a virtual machine's
// cores were runnable but running another guest. On a shared host, stolen time is latency the
// bot cannot help, and it varies from hour to hour; the table shows it so runs can be compared.
type machineCPU struct {
	busy, stolen time.Duration
}

var errNoProcStat = errors.New("machine CPU is only available on Linux (/proc/stat)")

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, errNoProcStat
	}
	return parseMachineCPU(string(b))
}

func parseMachineCPU(stat string) (machineCPU, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	// cpu user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is
	// already counted in user and nice.
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("unexpected /proc/stat first line %q", line)
	}
	var ticks [8]int64
	for i := range ticks {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("unexpected /proc/stat first line %q", line)
		}
		ticks[i] = n
	}
	user, nice, system, irq, softirq, steal := ticks[0], ticks[1], ticks[2], ticks[5], ticks[6], ticks[7]
	tick := 10 * time.Millisecond // USER_HZ, as in cpuTime
	return machineCPU{
		busy:   time.Duration(user+nice+system+irq+softirq) * tick,
		stolen: time.Duration(steal) * tick,
	}, nil
}

func (m machineCPU) since(before machineCPU) machineCPU {
	return machineCPU{busy: m.busy - before.busy, stolen: m.stolen - before.stolen}
}
