// Landlock asks for execute at execve only: a program a bind without the right shows still ran
// through ld.so, which maps it with mmap(PROT_EXEC), and the plan said `full bind` (helper-137).
// Such a bind (and tmpfs) is mounted noexec; without a mount namespace the statement says so.
import assert from 'node:assert/strict'
import { chmodSync, chownSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { callers, cordonShell } from '../helpers.js'
import { backendAvailable } from '../../src/backends/runtime.js'

const base = `/srv/cordon-noexec-${process.pid}`
process.once('exit', () => rmSync(base, { recursive: true, force: true }))

const LDSO = '/lib64/ld-linux-x86-64.so.2'

for (const c of callers())
  describe(
    `binds without execute, as ${c.who}`,
    { skip: process.arch !== 'x64' && 'ld.so path is x86-64' },
    () => {
      const dir = `${base}/${c.user ? 'user' : 'root'}`
      mkdirSync(`${dir}/rw`, { recursive: true })
      mkdirSync(`${dir}/ro`)
      mkdirSync(`${dir}/rx`)
      chmodSync(base, 0o755)
      copyFileSync('/bin/echo', `${dir}/ro/e`)
      copyFileSync('/bin/echo', `${dir}/rx/e`)
      writeFileSync(
        `${dir}/policy.yaml`,
        [
          'extends: [default]',
          'filesystem:',
          `  - rw: { src: ${dir}/rw, access: [read, readdir, write, create, delete, truncate] }`,
          `  - ro: { src: ${dir}/ro, access: ro }`,
          `  - ro: { src: ${dir}/rx, access: rx }`,
          '',
        ].join('\n'),
      )
      if (c.user)
        for (const d of [dir, `${dir}/rw`, `${dir}/ro`, `${dir}/rx`]) chownSync(d, c.user.uid, c.user.gid)

      test('a program there runs neither by execve nor through ld.so; one under execute does', () => {
        const script =
          `cp /bin/echo ${dir}/rw/e; ${dir}/rw/e direct; ${LDSO} ${dir}/rw/e RW; ${LDSO} ${dir}/ro/e RO; ` +
          `${LDSO} ${dir}/rx/e RX; ${dir}/rx/e RX2`
        const r = cordonShell(`$CORDON run -q -p policy.yaml -- sh -c '${script}'`, dir, c.user)
        assert.equal(r.stdout, 'RX\nRX2\n', r.stderr)
        assert.match(r.stderr, /rw\/e: Permission denied/)
        assert.match(r.stderr, /failed to map segment/)
      })

      // runc applies no Landlock: the bundle's noexec is the one layer (export/oci-bundle.ts).
      const runc = backendAvailable('runc', c.user?.uid)
      test('under runc, too, a program there runs not through ld.so', { skip: !runc.ok && runc.why }, () => {
        const script = `cp /bin/echo ${dir}/rw/e; ${LDSO} ${dir}/rw/e RW; ${LDSO} ${dir}/ro/e RO; ${LDSO} ${dir}/rx/e RX`
        const r = cordonShell(
          `$CORDON run -q --backend runc -p policy.yaml -- sh -c '${script}'`,
          dir,
          c.user,
        )
        assert.equal(r.stdout, 'RX\n', r.stderr)
        assert.match(r.stderr, /rw\/e: .*failed to map segment/)
      })

      // A `landlock.paths` grant of execute inside keeps the mount exec, and its statement says
      // the rest of it runs through ld.so; learn and audit mount it as the run does (helper-139:
      // their traced view, without the policy's landlock paths, made it noexec).
      test('a landlock path granting execute inside: exec under run, --audit and learn alike, and said', () => {
        const cache = `${dir}/cache`
        mkdirSync(cache, { recursive: true })
        if (c.user) chownSync(cache, c.user.uid, c.user.gid)
        writeFileSync(
          `${dir}/granted.yaml`,
          [
            'extends: [default]',
            'filesystem:',
            `  - tmpfs: { dest: ${cache}, access: [read, readdir, write, create, delete, truncate] }`,
            'landlock:',
            '  paths:',
            `    - { path: ${cache}, access: [read, readdir, write, create, execute] }`,
            '',
          ].join('\n'),
        )
        const script = `cp /bin/echo ${cache}/e && ${cache}/e RAN`
        for (const mode of ['run -q', 'run -q --audit', `learn -o ${dir}/learned.yaml`]) {
          const r = cordonShell(`$CORDON ${mode} -p granted.yaml -- sh -c '${script}'`, dir, c.user)
          assert.equal(r.stdout, 'RAN\n', `${mode}: ${r.stderr}`)
        }
        const plan = cordonShell('$CORDON plan -p granted.yaml', dir, c.user)
        assert.match(
          plan.stdout,
          new RegExp(`partial tmpfs ${cache}: .*a landlock path grants execute inside it`),
        )
      })

      test('the plan mounts them noexec; without namespaces the statement names the gap', () => {
        const plan = cordonShell('$CORDON plan -p policy.yaml', dir, c.user)
        assert.match(plan.stdout, new RegExp(`bind +${dir}/rw -> ${dir}/rw \\(rw,noexec`), plan.stderr)
        assert.match(plan.stdout, new RegExp(`bind +${dir}/ro -> ${dir}/ro \\(ro,noexec\\)`))
        assert.match(plan.stdout, new RegExp(`bind +${dir}/rx -> ${dir}/rx \\(ro\\)`))
        assert.match(plan.stdout, /tmpfs +\/tmp mode 01777.* noexec/)
        const bare = cordonShell(
          '$CORDON plan --no-namespaces --acknowledge no-view -p policy.yaml',
          dir,
          c.user,
        )
        // `none` here: the project's rule grants execute over it too, which Landlock follows.
        assert.match(
          bare.stdout,
          new RegExp(`(partial|none) +bind ${dir}/rw: .*Landlock asks for execute at execve only`),
        )
        assert.match(bare.stdout, /partial tmpfs \/tmp: .*ld\.so runs a program by mapping it/)
        assert.doesNotMatch(bare.stdout, new RegExp(`bind ${dir}/rx: .*execve only`))
      })
    },
  )
