// What a learned program can do to the policy it is learned into, or to the files learn
// writes: nothing. (Found by the adversarial review of issue 18.)
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { cordon, isRoot } from '../helpers.js'

describe('learn under attack', { skip: !isRoot && 'a project outside /tmp needs root here' }, () => {
  const dir = `/srv/cordon-learn-attack-${process.pid}`
  mkdirSync(dir, { recursive: true })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('`..` after a planted link is resolved as the kernel does: no grant of /etc/cron.d', () => {
    const script = [
      'mkdir -p a/b/c/d/e/f/g a/etc/cron.d',
      'ln -sfn "$PWD/a/b/c/d/e/f/g" L',
      'echo x > L/../../../../../../etc/cron.d/job',
      'echo x > L/../../../../../../../../../../usr/local/bin/p 2>/dev/null; true',
    ].join('\n')
    writeFileSync(`${dir}/lx.sh`, script)
    const r = cordon(['learn', '-o', `${dir}/pol.yaml`, '--', 'sh', './lx.sh'], {
      cwd: dir,
      timeout: 120_000,
    })
    assert.equal(r.status, 0, r.stderr)
    const policy = readFileSync(`${dir}/pol.yaml`, 'utf8')
    assert.doesNotMatch(policy, /rw: \/etc|rw: \/usr/, policy)
    // The write that did happen, in the project, is the one learned.
    assert.match(policy, new RegExp(`rw: ${dir}`))
  })

  test('a path the program names cannot write keys into its learned policy', () => {
    // Failed writes are listed as comments; a line break in the name would end the comment.
    const names = ['/usr/x\nhostname: pwned\n#', '/usr/y\u2028z', '/usr/w\rcwd: /']
    writeFileSync(
      `${dir}/names.py`,
      `for p in ${JSON.stringify(names)}:\n  try: open(p, "w")\n  except OSError: pass\n`,
    )
    const r = cordon(['learn', '-o', `${dir}/names.yaml`, '--', '/usr/bin/python3', 'names.py'], {
      cwd: dir,
      timeout: 120_000,
    })
    assert.equal(r.status, 0, r.stderr)
    const policy = readFileSync(`${dir}/names.yaml`, 'utf8')
    assert.doesNotMatch(policy, /^hostname: pwned|^cwd: \/$/m, policy)
    assert.match(policy, /^# - create \/usr\/x\\nhostname: pwned\\n#$/m, policy)
    assert.match(policy, /^# - create \/usr\/y\\u2028z$/m, policy)
    assert.match(policy, /^# - create \/usr\/w\\rcwd: \/$/m, policy)
  })

  test('a path the program names cannot read as another in its learned policy', () => {
    // A bidi override reorders what a reviewer sees; a zero-width space or a tag character
    // makes two names look the same. Each shows as an escape in the comment.
    const names = ['/usr/a\u202eb', '/usr/c\u200bd', '/usr/e\u{e0041}f']
    writeFileSync(
      `${dir}/look.py`,
      `for p in ${JSON.stringify(names)}:\n  try: open(p, "w")\n  except OSError: pass\n`,
    )
    const r = cordon(['learn', '-o', `${dir}/look.yaml`, '--', '/usr/bin/python3', 'look.py'], {
      cwd: dir,
      timeout: 120_000,
    })
    assert.equal(r.status, 0, r.stderr)
    const policy = readFileSync(`${dir}/look.yaml`, 'utf8')
    assert.doesNotMatch(policy, /[\u200b\u202e]|\udb40/, policy)
    assert.match(policy, /^# - create \/usr\/a\\u202eb$/m, policy)
    assert.match(policy, /^# - create \/usr\/c\\u200bd$/m, policy)
    assert.match(policy, /^# - create \/usr\/e\\u\{e0041\}f$/m, policy)
  })

  test('arguments with line breaks are recorded and read back as they were', () => {
    const script = 'import sys\nprint(len(sys.argv))'
    const r = cordon(['learn', '-o', `${dir}/args.yaml`, '--', '/usr/bin/python3', '-c', script, 'a\nb: c'], {
      cwd: dir,
      timeout: 120_000,
    })
    assert.equal(r.status, 0, r.stderr)
    const run = cordon(['run', '-p', `${dir}/args.yaml`], { cwd: dir })
    assert.equal(run.stdout, '2\n', run.stderr)
  })

  test('arguments with invisible characters are escaped in the policy and read back as they were', () => {
    const script = 'import sys\nprint(ascii(sys.argv[1]))'
    const arg = 'x\u202ey\u{e0041}\u200b'
    const r = cordon(['learn', '-o', `${dir}/argv.yaml`, '--', '/usr/bin/python3', '-c', script, arg], {
      cwd: dir,
      timeout: 120_000,
    })
    assert.equal(r.status, 0, r.stderr)
    const policy = readFileSync(`${dir}/argv.yaml`, 'utf8')
    assert.doesNotMatch(policy, /[\u200b\u202e]|\udb40/, policy)
    assert.match(policy, /"x\\u202ey\\U000e0041\\u200b"/, policy)
    const run = cordon(['run', '-p', `${dir}/argv.yaml`], { cwd: dir })
    assert.equal(run.stdout, "'x\\u202ey\\U000e0041\\u200b'\n", run.stderr)
  })

  test('a link the program plants at the output name is not written through', () => {
    const victim = `${dir}/victim`
    writeFileSync(victim, 'keep\n')
    const r = cordon(
      [
        'learn',
        '-o',
        `${dir}/out.yaml`,
        '--',
        'sh',
        '-c',
        `ln -s ${victim} out.yaml; ln -s ${victim} out.learn.json`,
      ],
      { cwd: dir, timeout: 120_000 },
    )
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /out\.yaml is a symbolic link; cordon does not write through links/)
    assert.equal(readFileSync(victim, 'utf8'), 'keep\n')
    assert.ok(lstatSync(`${dir}/out.yaml`).isSymbolicLink())
    assert.ok(!existsSync(`${dir}/.out.yaml.cordon-${process.pid}`))
  })
})
