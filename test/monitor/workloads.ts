// Signal-heavy workloads whose output and exit status must not change under observation
// (issue 19): each forks or spawns many times while signals (SIGCHLD above all) arrive, and
// prints only what does not depend on timing. Used by test/monitor/unobserved.test.ts and
// scripts/unobserved-runs.mjs (the same files, written by writeWorkloads).
import { execFileSync, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Workload {
  name: string
  argv: string[]
}

/** Python: a SIGCHLD handler without SA_RESTART (Python's own), and os.fork in batches of 10,
 * so that earlier children's SIGCHLD arrive while later forks run. */
const PYTHON = `import os, signal, sys
signal.signal(signal.SIGCHLD, lambda s, f: None)
n = int(sys.argv[1])
for i in range(0, n, 10):
    pids = []
    for j in range(i, min(n, i + 10)):
        try:
            pid = os.fork()
        except OSError as e:
            print(f"fork {j} failed {e.strerror}")
            sys.exit(1)
        if pid == 0:
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
print("python ok", n)
`

/** dash: background jobs reaped by wait, many at once. */
const DASH = (n: number) =>
  `for j in 1 2; do for i in $(seq ${n / 2}); do /bin/true & done; wait; done; echo dash ok`

/** bash job control: set -m, a SIGCHLD trap, background jobs, wait by job spec. */
const BASH = (n: number) => `set -m
c=0
trap 'c=$((c+1))' CHLD
for i in $(seq ${n}); do /bin/true & done
wait
sleep 0.05 &
sleep 0.05 &
wait %1; wait
echo "bash ok $?"
`

/** Node: child_process, synchronous and asynchronous (libuv's SIGCHLD handler). */
const NODE = `const { spawn, spawnSync } = require('node:child_process')
const n = Number(process.argv[2])
for (let i = 0; i < n / 2; i++) {
  const r = spawnSync('/bin/true')
  if (r.status !== 0) { console.log('spawnSync', i, r.error && r.error.code); process.exit(1) }
}
let left = n / 2
for (let i = 0; i < n / 2; i++)
  spawn('/bin/true')
    .on('error', (e) => { console.log('spawn', i, e.code); process.exit(1) })
    .on('exit', (code) => {
      if (code !== 0) { console.log('exit', i, code); process.exit(1) }
      if (--left === 0) console.log('node ok', n)
    })
`

/** Go: os/exec with SIGCHLD delivered to the program (signal.Notify), and the runtime's own
 * preemption signals. */
const GO = `package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1024)
	signal.Notify(c, syscall.SIGCHLD)
	n, _ := strconv.Atoi(os.Args[1])
	for i := 0; i < n; i++ {
		if err := exec.Command("/bin/true").Run(); err != nil {
			fmt.Println("run", i, err)
			os.Exit(1)
		}
	}
	fmt.Println("go ok", n)
}
`

/** C: a SIGALRM handler installed without SA_RESTART, an interval timer firing every 100 µs,
 * and many opens, stats and closes of a regular file. Outside a sandbox none of them ever fails
 * with EINTR: the kernel gives EINTR only for calls that wait interruptibly. A call the sandbox
 * stops for an observer (seccomp user notification) waits interruptibly until the launcher takes
 * it, and fails with EINTR if the timer fires before then. Prints the count of each failure. */
const OPEN_LOOP = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;
static void on_alarm(int sig) { (void)sig; ticks++; }

int main(int argc, char **argv)
{
	if (argc != 3) return 2;
	long n = atol(argv[1]), eintr = 0, other = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* sa_flags 0: no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL)) return 2;
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	if (setitimer(ITIMER_REAL, &it, NULL)) return 2;
	for (long i = 0; i < n; i++) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd >= 0) close(fd);
		else if (errno == EINTR) eintr++;
		else other++;
		fd = openat(AT_FDCWD, argv[2], O_RDONLY | O_CLOEXEC);
		if (fd >= 0) close(fd);
		else if (errno == EINTR) eintr++;
		else other++;
		struct stat st;
		if (stat(argv[2], &st) == 0) continue;
		if (errno == EINTR) eintr++;
		else other++;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	if (eintr || other) {
		printf("open loop: %ld EINTR, %ld other failures in %ld rounds\\n", eintr, other, n);
		return 1;
	}
	printf("open loop ok %ld\\n", n);
	return 0;
}
`

/** Writes the workloads into dir (visible in the sandbox); Go's is built when go is there. */
export function writeWorkloads(dir: string, n: number): { workloads: Workload[]; skipped: string[] } {
  writeFileSync(join(dir, 'fork-loop.py'), PYTHON)
  writeFileSync(join(dir, 'bg.sh'), DASH(n))
  writeFileSync(join(dir, 'jobs.bash'), BASH(n))
  writeFileSync(join(dir, 'spawn.cjs'), NODE)
  const workloads: Workload[] = [
    { name: 'python SIGCHLD fork loop', argv: ['/usr/bin/python3', join(dir, 'fork-loop.py'), String(n)] },
    { name: 'dash background jobs', argv: ['/bin/dash', join(dir, 'bg.sh')] },
    { name: 'bash job control', argv: ['/bin/bash', join(dir, 'jobs.bash')] },
    { name: 'node child_process', argv: [process.execPath, join(dir, 'spawn.cjs'), String(n)] },
  ]
  const skipped: string[] = []
  if (spawnSync('cc', ['--version']).status === 0) {
    writeFileSync(join(dir, 'open-loop.c'), OPEN_LOOP)
    writeFileSync(join(dir, 'open-loop.txt'), 'a regular file\n')
    execFileSync('cc', ['-O2', '-o', join(dir, 'open-loop'), join(dir, 'open-loop.c')], { stdio: 'ignore' })
    // 50 rounds per iteration: enough calls for the 100 µs timer to hit the window often.
    workloads.push({
      name: 'C SIGALRM open loop',
      argv: [join(dir, 'open-loop'), String(n * 50), join(dir, 'open-loop.txt')],
    })
  } else skipped.push('C SIGALRM open loop: no C compiler (Debian: gcc)')
  if (spawnSync('go', ['version']).status === 0) {
    writeFileSync(join(dir, 'spawn.go'), GO)
    execFileSync('go', ['build', '-o', join(dir, 'gospawn'), join(dir, 'spawn.go')], {
      cwd: dir,
      env: { ...process.env, GOCACHE: join(dir, '.gocache'), GO111MODULE: 'off' },
      stdio: 'ignore',
    })
    workloads.push({ name: 'go os/exec', argv: [join(dir, 'gospawn'), String(n)] })
  } else skipped.push('go os/exec: go is not installed (Debian: golang-go)')
  return { workloads, skipped }
}

/** The observation modes, as cordon arguments around a command. */
export const MODES: Record<string, (argv: string[], dir: string) => string[]> = {
  monitor: (argv) => ['run', '--monitor', '--', ...argv],
  watch: (argv) => ['run', '--watch', 'clone,execve,wait4', '--', ...argv],
  learn: (argv, dir) => ['learn', '-o', join(dir, 'learned.yaml'), '--', ...argv],
  audit: (argv) => ['run', '--audit', '--', ...argv],
}
