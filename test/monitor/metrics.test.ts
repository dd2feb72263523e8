// Prometheus metrics as Prometheus expects them: counters end in `_total`, no label holds a
// secret, an ended sandbox's series go after the retention window, and a run can linger until
// its final values are scraped. promtool (Debian's prometheus) lints the exposition.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { ENDED_RETENTION_MS } from '../../src/monitor/metrics.js'
import { MonitorSession } from '../../src/monitor/session.js'
import { spawn } from '../../src/run/spawn.js'
import { projectDir } from '../helpers.js'

const promtool = spawnSync('promtool', ['--version']).status === 0

describe('metrics', () => {
  test('counters, safe labels, retention of ended sandboxes, promtool-clean', async () => {
    const session = await MonitorSession.open({
      metrics: '127.0.0.1:0',
      reload: false,
      alerts: ['webhook:http://127.0.0.1:9/hook?token=s3cret'],
      log: () => {},
    })
    const scrape = async () => (await fetch(`http://127.0.0.1:${session.metricsPort}/metrics`)).text()
    try {
      const p = spawn({ extends: ['default'] }, 'sh', ['-c', 'for i in 1 2 3; do /bin/true; done'], {
        stdio: 'ignore',
        watch: session.watchList(),
        cgroup: true,
        processEvents: true,
        context: { cwd: projectDir() },
      })
      session.attachProcess(p, ['sh'], {})
      for await (const ev of p.events) session.handle(p.id, ev)
      await p.exited
      const text = await scrape()
      for (const counter of ['cpu_seconds', 'events_dropped', 'alert_deliveries', 'syscalls'])
        assert.match(text, new RegExp(`# TYPE cordon_${counter}_total counter`))
      assert.doesNotMatch(text, /# TYPE cordon_(cpu_seconds|events_dropped|alert_deliveries) /)
      assert.doesNotMatch(text, /s3cret|http:\/\//)
      assert.match(text, /cordon_alert_deliveries_total\{sink="webhook#1",outcome="sent"\} 0/)
      assert.match(text, new RegExp(`cordon_sandbox_running\\{sandbox="${p.id}"\\} 0`))
      assert.match(text, new RegExp(`cordon_syscalls_total\\{sandbox="${p.id}",syscall="execve"\\} [4-9]`))
      if (promtool) {
        const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
        assert.equal(lint.status, 0, lint.stdout + lint.stderr)
      }
      // Within the window the final values stay; after it, every series of the sandbox goes.
      session.metrics!.prune(Date.now() + ENDED_RETENTION_MS / 2)
      assert.match(await scrape(), new RegExp(`sandbox="${p.id}"`))
      session.metrics!.prune(Date.now() + ENDED_RETENTION_MS + 1)
      assert.doesNotMatch(await scrape(), new RegExp(`sandbox="${p.id}"`))
    } finally {
      await session.close()
    }
  })

  // Issue 19: the counts were only sent when the launcher's poll timed out, so a scrape during a
  // monitored run saw no syscalls. Scraped mid-run, twice: the count is there and grows.
  test('cordon_syscalls_total grows while the run goes on, scraped mid-run', async () => {
    const session = await MonitorSession.open({
      metrics: '127.0.0.1:0',
      reload: false,
      alerts: [],
      log: () => {},
    })
    const scrape = async () => (await fetch(`http://127.0.0.1:${session.metricsPort}/metrics`)).text()
    try {
      const p = spawn(
        { extends: ['default'] },
        'sh',
        ['-c', 'i=0; while [ $i -lt 60 ]; do cat /etc/hostname >/dev/null; sleep 0.1; i=$((i+1)); done'],
        {
          stdio: 'ignore',
          watch: [...session.watchList(), 'openat'],
          cgroup: true,
          processEvents: true,
          context: { cwd: projectDir() },
        },
      )
      session.attachProcess(p, ['sh'], {})
      const series = new RegExp(`cordon_syscalls_total\\{sandbox="${p.id}",syscall="openat"\\} (\\d+)`)
      const seen: number[] = []
      let running = true
      const handled = (async () => {
        for await (const ev of p.events) session.handle(p.id, ev)
      })()
      const exited = p.exited.then((r) => {
        running = false
        return r
      })
      // Scrapes while the sandbox runs (60 rounds of 0.1 s: 6 s and more under load).
      while (running && seen.length < 2) {
        await new Promise((r) => setTimeout(r, 700))
        const n = Number(series.exec(await scrape())?.[1] ?? 0)
        if (running && n > 0 && n > (seen.at(-1) ?? 0)) seen.push(n)
      }
      p.kill('SIGKILL')
      await handled
      await exited
      assert.equal(seen.length, 2, `mid-run openat counts: ${seen.join(' ')}`)
    } finally {
      await session.close()
    }
  })

  test('linger ends at the next answered scrape, or when its time is up', async () => {
    const session = await MonitorSession.open({
      metrics: '127.0.0.1:0',
      reload: false,
      alerts: [],
      log: () => {},
    })
    try {
      const metrics = session.metrics!
      let lingered = false
      const waiting = metrics.linger(60_000).then(() => (lingered = true))
      await new Promise((r) => setTimeout(r, 50))
      assert.equal(lingered, false)
      await (await fetch(`http://127.0.0.1:${session.metricsPort}/metrics`)).text()
      await waiting
      const start = Date.now()
      await metrics.linger(100)
      assert.ok(Date.now() - start >= 90)
    } finally {
      await session.close()
    }
  })

  test(
    "cordon_alert_deliveries_total names the sink by kind, in promtool's eyes too",
    { skip: !promtool && 'promtool not installed (Debian package prometheus)' },
    async () => {
      const session = await MonitorSession.open({
        metrics: '127.0.0.1:0',
        reload: false,
        alerts: ['stderr'],
        log: () => {},
      })
      try {
        const text = await (await fetch(`http://127.0.0.1:${session.metricsPort}/metrics`)).text()
        assert.match(text, /cordon_alert_deliveries_total\{sink="stderr#1",outcome="dropped"\} 0/)
        const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
        assert.equal(lint.status, 0, lint.stdout + lint.stderr)
      } finally {
        await session.close()
      }
    },
  )
})
