// systemd as pid 1 in systemd-nspawn over an overlay of this host: the real consumer of the
// exported units. One boot per test file (about 3 s to basic.target); units are started with
// `systemctl start --wait`, their output goes to files under /run that a drop-in names (the
// exported unit itself is left as it is), and the result is systemd's own Result= and exit code.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface UnitFile {
  path: string
  content: string | Uint8Array
  mode?: number
}

export interface UnitResult {
  /** systemd's Result= (success, exit-code, signal, …). */
  result: string
  /** ExecMainStatus=: the exit status, or the signal number. */
  status: number
  stdout: string
  stderr: string
  /** The unit's journal lines (systemd's own messages: 203/EXEC, 200/CHDIR, parse warnings). */
  journal: string
}

/** Why systemd-nspawn cannot boot a container here, or undefined when it can. */
export function nspawnMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'systemd-nspawn --boot needs root'
  if (spawnSync('sh', ['-c', 'command -v systemd-nspawn']).status !== 0)
    return 'systemd-nspawn is not installed (apt-get install systemd-container)'
  if (!existsSync('/lib/systemd/systemd')) return 'systemd is not installed (apt-get install systemd)'
  return undefined
}

export class SystemdContainer {
  private dir = mkdtempSync(join(tmpdir(), 'cordon-nspawn-'))
  private nspawnPid = 0
  /** pid 1 of the container, as the host sees it. */
  leader = 0

  /** Boots; `binds` are host directories seen at the same path inside (the container's /tmp is
   * its own tmpfs, so a project under /tmp must be bound). */
  async boot(binds: string[] = []): Promise<void> {
    const root = join(this.dir, 'root')
    mkdirSync(join(root, 'etc'), { recursive: true })
    mkdirSync(join(this.dir, 'upper'))
    // nspawn checks the directory for an OS before the overlay covers it.
    writeFileSync(join(root, 'etc', 'os-release'), readFileSync('/etc/os-release'))
    const name = `cordon-${process.pid}`
    const args = [
      '-q',
      '-D',
      root,
      `--overlay=/:${join(this.dir, 'upper')}:/`,
      '-M',
      name,
      // No systemd on the host here: no machine registration, no scope unit, no journal link.
      '--register=no',
      '--keep-unit',
      '--link-journal=no',
      '--console=pipe',
      // nspawn's own seccomp allowlist refuses the new mount API (ENOSYS) and Landlock (EPERM);
      // cordon-exec (the --wrap units) uses both. A host's systemd has no such filter above its services.
      '--system-call-filter=open_tree move_mount mount_setattr fsopen fsconfig fsmount fspick landlock_create_ruleset landlock_add_rule landlock_restrict_self',
      ...binds.map((b) => `--bind=${b}`),
      '--boot',
      '--',
      'systemd.unit=basic.target',
    ]
    const child = spawnSync(
      'sh',
      ['-c', `systemd-nspawn "$@" </dev/null >${this.dir}/console 2>&1 & echo $!`, 'sh', ...args],
      {
        encoding: 'utf8',
      },
    )
    this.nspawnPid = Number(child.stdout.trim())
    for (let i = 0; i < 120; i++) {
      await sleep(250)
      const kids = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(this.nspawnPid)], {
        encoding: 'utf8',
      })
      const init = /^\s*(\d+)\s+systemd$/m.exec(kids.stdout)
      if (!init) continue
      this.leader = Number(init[1])
      const state = this.run(['systemctl', 'is-system-running']).stdout.trim()
      if (state === 'running' || state === 'degraded') return
    }
    const console = readFileSync(join(this.dir, 'console'), 'utf8')
    await this.stop()
    throw new Error(`systemd did not reach basic.target in the container:\n${console}`)
  }

  /** Runs a command in the container's namespaces. */
  run(cmd: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('nsenter', ['-t', String(this.leader), '-a', ...cmd], {
      encoding: 'utf8',
      input,
      timeout: 120_000,
    })
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
  }

  /** A path inside the container, as the host can write it. */
  path(inside: string): string {
    return join('/proc', String(this.leader), 'root', inside)
  }

  /** Installs the unit (and files beside it, e.g. a plan), starts it and waits for it to end. */
  startUnit(name: string, unit: string, files: UnitFile[] = []): UnitResult {
    return this.startUnits([{ name, unit, files }]).get(name)!
  }

  /** Installs the units, starts them all at once and waits until every one has ended. */
  startUnits(units: { name: string; unit: string; files?: UnitFile[] }[]): Map<string, UnitResult> {
    mkdirSync(this.path('/run/cordon-out'), { recursive: true })
    for (const { name, unit, files = [] } of units) {
      for (const f of files) {
        mkdirSync(join(this.path(f.path), '..'), { recursive: true })
        writeFileSync(this.path(f.path), f.content, { mode: f.mode ?? 0o644 })
      }
      writeFileSync(this.path(`/etc/systemd/system/${name}.service`), unit)
      mkdirSync(this.path(`/etc/systemd/system/${name}.service.d`), { recursive: true })
      writeFileSync(
        this.path(`/etc/systemd/system/${name}.service.d/output.conf`),
        `[Service]\nStandardOutput=truncate:/run/cordon-out/${name}.out\n` +
          `StandardError=truncate:/run/cordon-out/${name}.err\n`,
      )
    }
    this.run(['systemctl', 'daemon-reload'])
    const services = units.map((u) => `${u.name}.service`)
    this.run(['systemctl', 'start', '--wait', ...services])
    const read = (p: string) => (existsSync(this.path(p)) ? readFileSync(this.path(p), 'utf8') : '')
    const results = new Map<string, UnitResult>()
    for (const { name } of units) {
      const show = this.run([
        'systemctl',
        'show',
        `${name}.service`,
        '-p',
        'Result',
        '-p',
        'ExecMainStatus',
      ]).stdout
      results.set(name, {
        result: /^Result=(.*)$/m.exec(show)?.[1] ?? 'unknown',
        status: Number(/^ExecMainStatus=(\d+)$/m.exec(show)?.[1] ?? -1),
        stdout: read(`/run/cordon-out/${name}.out`),
        stderr: read(`/run/cordon-out/${name}.err`),
        journal: this.run(['journalctl', '-q', '--no-pager', '-o', 'cat', '-u', `${name}.service`]).stdout,
      })
    }
    this.run(['systemctl', 'reset-failed', ...services])
    return results
  }

  async stop(): Promise<void> {
    if (this.leader) this.run(['systemctl', 'poweroff'])
    for (let i = 0; i < 40 && this.nspawnPid && existsSync(`/proc/${this.nspawnPid}`); i++) await sleep(250)
    if (this.nspawnPid && existsSync(`/proc/${this.nspawnPid}`)) process.kill(this.nspawnPid, 'SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}
