// A command the sandbox cannot find (exec: ENOENT) gets, in the launcher's error, the host's
// view of why (spawn() adds it to the event): the launcher only knows the name was not there. A newcomer's `cc` under
// `--profile minimal` was "not found" with a hint pointing at PATH, while /usr/bin was in the
// view and on PATH: Debian's cc is a link through /etc/alternatives, which minimal does not show.
// And a policy with no `extends` shows no files at all, which the error never said.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { after, describe, test } from 'node:test'
import { run } from '../../src/index.js'
import { starter } from '../../src/run/launcher-process.js'
import { spawn } from '../../src/run/spawn.js'
import { cordon, recordedEvents } from '../helpers.js'
import { interpreterOf, resolveOnHost } from '../../src/host/paths.js'

describe('a command not found in the sandbox: the host says why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-not-found-'))
  chmodSync(dir, 0o755) // root's sandboxes run as an unprivileged id range: they must enter it
  const bin = join(dir, 'bin')
  const elsewhere = join(dir, 'elsewhere')
  mkdirSync(bin)
  mkdirSync(elsewhere)
  writeFileSync(join(elsewhere, 'tool'), '#!/bin/sh\necho tool ran\n', { mode: 0o755 })
  // bin/tool → ../elsewhere/tool: the link is in the view, its target is not.
  symlinkSync('../elsewhere/tool', join(bin, 'tool'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const base = ['run', '--profile', 'minimal', '--ro', bin, '--env', `PATH=${bin}:/usr/bin:/bin`]

  test('a link that leaves the view is named, with the bind that fixes it', () => {
    const r = cordon([...base, '--', 'tool'], { cwd: dir })
    assert.equal(r.status, 127, r.stderr)
    assert.ok(
      r.stderr.includes(
        `cordon: exec tool failed: tool is ${bin}/tool → ${elsewhere}/tool on this host, and ${elsewhere}/tool is not in the sandbox's view: add \`--ro ${elsewhere}\``,
      ),
      r.stderr,
    )
    // The fix it names works.
    const fixed = cordon([...base, '--ro', elsewhere, '--', 'tool'], { cwd: dir })
    assert.equal(fixed.status, 0, fixed.stderr)
    assert.equal(fixed.stdout, 'tool ran\n')
  })

  test('a policy that extends no profile is told to', () => {
    writeFileSync(join(dir, 'empty.yaml'), 'version: 1\n')
    const r = cordon(['run', '-p', join(dir, 'empty.yaml'), '--', 'echo', 'hi'], { cwd: dir })
    assert.equal(r.status, 127, r.stderr)
    assert.match(
      r.stderr,
      /exec echo failed: the policy shows the sandbox no files at all \(it extends no profile\): begin it with `extends: \[default\]`/,
    )
  })

  test('a name that is nowhere says it is not on the host either', () => {
    const r = cordon([...base, '--', 'no-such-tool-anywhere'], { cwd: dir })
    assert.equal(r.status, 127, r.stderr)
    assert.ok(
      r.stderr.includes(
        `exec no-such-tool-anywhere failed: no-such-tool-anywhere is not on this host either: no directory of the sandbox's PATH (${bin}:/usr/bin:/bin) holds it`,
      ),
      r.stderr,
    )
    const missing = cordon([...base, '--', './missing'], { cwd: dir })
    assert.equal(missing.status, 127, missing.stderr)
    assert.ok(
      missing.stderr.includes(`./missing is not on this host either: there is no such file (from ${dir})`),
      missing.stderr,
    )
  })

  test("a tool on the caller's PATH only (~/.cargo/bin, pyenv's shims) is named there, with both fixes", () => {
    const mine = join(dir, 'mine')
    mkdirSync(mine)
    writeFileSync(join(mine, 'mytool'), '#!/bin/sh\necho mytool ran\n', { mode: 0o755 })
    const env = { PATH: `${mine}:${process.env.PATH ?? '/usr/bin:/bin'}` }
    const r = cordon(['run', '--', 'mytool'], { cwd: bin, env })
    assert.equal(r.status, 127, r.stderr)
    const path = '/usr/local/bin:/usr/bin:/bin'
    assert.ok(
      r.stderr.includes(
        `exec mytool failed: mytool is ${mine}/mytool on your PATH, in a directory the sandbox's PATH (${path}) does not search: ` +
          `run it by its path (\`cordon run --ro ${mine} -- ${mine}/mytool\`), or add the directory to the sandbox's ` +
          `(\`--env PATH=${mine}:${path}\` with \`--ro ${mine}\`)`,
      ),
      r.stderr,
    )
    // Both fixes work.
    const byPath = cordon(['run', '--ro', mine, '--', `${mine}/mytool`], { cwd: bin, env })
    assert.equal(byPath.stdout, 'mytool ran\n', byPath.stderr)
    const byEnv = cordon(['run', '--ro', mine, '--env', `PATH=${mine}:${path}`, '--', 'mytool'], {
      cwd: bin,
      env,
    })
    assert.equal(byEnv.stdout, 'mytool ran\n', byEnv.stderr)
    // A directory the view shows already (the project, read-only by default) needs no bind.
    const inProject = cordon(['run', '--', 'mytool'], { cwd: mine, env })
    assert.ok(
      inProject.stderr.includes(`run it by its path (\`cordon run -- ${mine}/mytool\`)`),
      inProject.stderr,
    )
    // A sandbox given the caller's PATH (--pass-env PATH) searched it: the name is elsewhere.
    const passed = cordon(['run', '--pass-env', 'PATH', '--', 'no-such-tool-anywhere'], { cwd: bin, env })
    assert.ok(
      passed.stderr.includes(`no directory of the sandbox's PATH (${env.PATH}) holds it`),
      passed.stderr,
    )
  })

  // The bind that shows a tool's file was not enough for the managers newcomers meet: rustup's
  // proxies read ~/.rustup, pyenv's shims run ~/.pyenv/libexec/pyenv, npm links into its tree.
  test("a per-user tool manager's whole tree, and what else it reads, are named", () => {
    const home = join(dir, 'home')
    const shims = join(home, '.pyenv', 'shims')
    const cargoBin = join(home, '.cargo', 'bin')
    const version = join(home, '.nvm', 'v1')
    for (const d of [shims, cargoBin, join(version, 'bin'), join(version, 'lib', 'npm')])
      mkdirSync(d, { recursive: true })
    writeFileSync(join(shims, 'pytool'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
    writeFileSync(join(cargoBin, 'rustup'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
    symlinkSync('rustup', join(cargoBin, 'cargo'))
    writeFileSync(join(version, 'lib', 'npm', 'cli.js'), '#!/bin/sh\necho npm ran\n', { mode: 0o755 })
    symlinkSync('../lib/npm/cli.js', join(version, 'bin', 'npmtool'))
    // RUSTUP_HOME and CARGO_HOME unset: rustup's defaults under HOME.
    const env = {
      HOME: home,
      RUSTUP_HOME: undefined,
      CARGO_HOME: undefined,
      PATH: `${shims}:${cargoBin}:${join(version, 'bin')}:/usr/bin:/bin`,
    }
    const hint = (name: string) => cordon(['run', '--', name], { cwd: bin, env }).stderr
    assert.ok(
      hint('pytool').includes(`(\`cordon run --ro ${home}/.pyenv -- ${shims}/pytool\`)`),
      hint('pytool'),
    )
    const cargo = hint('cargo')
    assert.ok(
      cargo.includes(
        `--ro ${home}/.cargo --ro ${home}/.rustup --env RUSTUP_HOME=${home}/.rustup --env CARGO_HOME=${home}/.cargo -- ${cargoBin}/cargo`,
      ),
      cargo,
    )
    assert.ok(
      cargo.includes(`cargo is rustup's proxy, which reads its toolchains from ${home}/.rustup`),
      cargo,
    )
    // A link into its own tree: the tree, and the fix works.
    assert.ok(
      hint('npmtool').includes(`\`cordon run --ro ${version} -- ${version}/bin/npmtool\``),
      hint('npmtool'),
    )
    const fixed = cordon(['run', '--ro', version, '--', `${version}/bin/npmtool`], { cwd: bin })
    assert.equal(fixed.stdout, 'npm ran\n', fixed.stderr)
  })

  // A policy of /usr alone on a merged-/usr host: /bin and the loader's /lib64 are links there.
  const usrOnly = join(dir, 'usr-only.yaml')
  writeFileSync(usrOnly, 'version: 1\nfilesystem:\n  - ro: /usr\nenv:\n  set:\n    PATH: /usr/bin\n')
  const loader = interpreterOf('/usr/bin/true')
  const loaderWay = loader ? resolveOnHost(loader) : undefined
  // The links on the loader's way that /usr does not hold (merged /usr: /lib64, then /lib).
  const outside = loaderWay?.links.map(([l]) => l).filter((l) => !l.startsWith('/usr/')) ?? []

  test(
    'a program reached through a directory link the view lacks names the link',
    { skip: resolveOnHost('/bin/true').real === '/bin/true' && '/bin is not a link here (no merged /usr)' },
    () => {
      const r = cordon(['run', '-p', usrOnly, '--', '/bin/true'], { cwd: dir })
      assert.equal(r.status, 127, r.stderr)
      assert.ok(
        r.stderr.includes(
          `exec /bin/true failed: /bin/true is /bin/true → ${resolveOnHost('/bin/true').real} on this host, and /bin is not in the sandbox's view: add \`--ro /bin\``,
        ),
        r.stderr,
      )
    },
  )

  test(
    "a program in the view whose loader is not: the loader's way, and the binds that fix it",
    {
      skip:
        (!outside.length || !loader?.startsWith('/')) &&
        'the loader is reached through no link outside /usr here',
    },
    () => {
      const r = cordon(['run', '-p', usrOnly, '--', 'true'], { cwd: dir })
      assert.equal(r.status, 127, r.stderr)
      const pieces = `${outside.join(', ')} ${outside.length > 1 ? 'are' : 'is'} missing`
      assert.ok(
        r.stderr.includes(
          `exec true failed: true is /usr/bin/true on this host, and its loader ${loader} → ${loaderWay!.real} is not in the sandbox's view (${pieces}): add \`--ro ${outside.join(' --ro ')}\``,
        ),
        r.stderr,
      )
      // The fix it names works.
      const fixed = cordon(['run', '-p', usrOnly, ...outside.flatMap((l) => ['--ro', l]), '--', 'true'], {
        cwd: dir,
      })
      assert.equal(fixed.status, 0, fixed.stderr)
    },
  )

  test('the library says the same, in the error event and in what run() rejects with', async () => {
    const policy = {
      extends: ['minimal'],
      filesystem: [{ ro: bin }],
      env: { set: { PATH: `${bin}:/usr/bin:/bin` } },
    }
    const r = await run(policy, 'tool', [], { cwd: dir, reject: false })
    assert.equal(r.code, 127)
    const error = r.events.find((e) => e.event === 'error')
    assert.ok(
      error?.event === 'error' && error.hint?.includes(`add \`--ro ${elsewhere}\``),
      JSON.stringify(error),
    )
    await assert.rejects(run({}, 'echo', ['hi'], { cwd: dir }), (e: Error) =>
      /could not start: exec echo failed: the policy shows the sandbox no files at all/.test(e.message),
    )
  })

  // `cordon monitor ID` reads the socket: the same event, with the hint, as the library's.
  test(
    'a client of the event socket reads the hint too',
    {
      skip:
        starter() === 'addon'
          ? false
          : 'a client reads lines from its accept on only without the spawn addon',
    },
    async () => {
      // A name with a line separator in it: the amended line is escaped as every event line is.
      const child = spawn({}, 'echo\u2028hi', [], { stdio: 'ignore', publish: true, context: { cwd: dir } })
      const socket = recordedEvents(child.id) // the launcher may have ended already: not find()
      assert.ok(socket, 'the record names an event socket')
      const lines = new Promise<string>((resolve, reject) => {
        let text = ''
        const client = connect(socket)
        client.setEncoding('utf8')
        client.on('data', (chunk: string) => (text += chunk))
        client.on('error', reject)
        client.on('close', () => resolve(text))
      })
      const seen = []
      for await (const ev of child.events) seen.push(ev)
      assert.equal((await child.exited).code, 127)
      assert.ok(!(await lines).includes('\u2028'), 'a raw U+2028 on the event socket')
      const read = (await lines)
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string; hint?: string })
      const error = read.find((e) => e.event === 'error')
      assert.match(error?.hint ?? '', /the policy shows the sandbox no files at all/, JSON.stringify(read))
      assert.deepEqual(read, JSON.parse(JSON.stringify(seen)))
    },
  )
})
