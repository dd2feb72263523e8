// Landlock's abstract-socket scope refuses the sandbox's own connections out, never a bind: in
// the host's network namespace (--no-namespaces) an abstract name the sandbox binds is the
// host's, and host programs connect to it (helper-137: a squat of an X11 or D-Bus name). The
// statement says so; a net namespace keeps the name the sandbox's own.
import assert from 'node:assert/strict'
import { chownSync, mkdirSync, rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import { callers, cordonShell, NAMESPACE_MODES } from '../helpers.js'

const base = `/tmp/cordon-abstract-${process.pid}`
process.once('exit', () => rmSync(base, { recursive: true, force: true }))

const LISTEN =
  `import socket\ns = socket.socket(socket.AF_UNIX)\ns.bind("\\0NAME")\ns.listen(1)\n` +
  `s.settimeout(3)\nprint("ready", flush=True)\ntry:\n  c, _ = s.accept()\n  print(c.recv(10).decode())\n` +
  `except OSError:\n  print("nobody")`
const CONNECT =
  `import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n  s.connect("\\0NAME")\n  s.sendall(b"host")\n` +
  `except OSError as e:\n  print(type(e).__name__)`

for (const c of callers())
  describe(`an abstract name bound in the sandbox, as ${c.who}`, () => {
    const dir = `${base}/${c.user ? 'user' : 'root'}`
    mkdirSync(dir, { recursive: true, mode: 0o755 })
    if (c.user) for (const d of [base, dir]) chownSync(d, c.user.uid, c.user.gid)
    for (const m of NAMESPACE_MODES)
      test(`${m.name}: ${m.flags ? 'the host reaches it, and the statement says so' : 'the host cannot reach it'}`, () => {
        const name = `cordon-abstract-${process.pid}-${c.user ? 'u' : 'r'}-${m.flags ? 'n' : 's'}`
        const listen = LISTEN.replace('NAME', name)
        const connect = CONNECT.replace('NAME', name)
        const r = cordonShell(
          `$CORDON run -q ${m.flags} -- python3 -c '${listen}' > out & N=$!; ` +
            `for i in $(seq 200); do grep -q ready out 2>/dev/null && break; sleep 0.05; done; ` +
            `python3 -c '${connect}'; wait $N; cat out`,
          dir,
          c.user,
        )
        assert.equal(
          r.stdout,
          m.flags ? 'ready\nhost\n' : 'ConnectionRefusedError\nready\nnobody\n',
          r.stderr,
        )
        const plan = cordonShell(`$CORDON plan ${m.flags}`, dir, c.user)
        if (m.flags)
          assert.match(
            plan.stdout,
            /partial scope abstract-unix-socket: .*an abstract name the sandbox binds is the host/,
          )
        else assert.match(plan.stdout, /full +scope abstract-unix-socket/)
      })
  })
