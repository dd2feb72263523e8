// What a learned program can do to the policy it is learned into, or to the files learn
// writes: nothing. (Found by the adversarial review of issue 18.)
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { protectedPaths } from '../../src/learn/generate.js'
import { secretAt, secretPaths } from '../../src/policy/resolve.js'
import { CLI, cordon, ensureTestUser, inPrivateMounts, isRoot } from '../helpers.js'

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

  // `cordon run` refuses to start in a home, /tmp or /; learn wrote `ro: <that directory>` for
  // the working directory all the same, and the policy, given another command, read ~/.ssh
  // (helper-116). learn refuses it as run does; under another profile the directory is shown
  // empty, with what the run read inside granted one by one.
  test('a working directory that holds secrets is not learned whole', () => {
    const home = `${dir}/home`
    mkdirSync(`${home}/.ssh`, { recursive: true })
    writeFileSync(`${home}/.ssh/id_rsa`, 'PRIVATE-KEY\n')
    writeFileSync(`${home}/notes.txt`, 'notes\n')
    const env = { HOME: home }
    const learn = (profile: string[], out: string) =>
      cordon(['learn', ...profile, '-o', out, '--', 'sh', '-c', 'ls >/dev/null; cat notes.txt'], {
        cwd: home,
        env,
        timeout: 120_000,
      })
    const refused = learn([], `${dir}/refused.yaml`)
    assert.equal(refused.status, 125, refused.stderr)
    assert.match(refused.stderr, /and that is .*\/home, which holds secrets .*--profile minimal/)
    assert.ok(!existsSync(`${dir}/refused.yaml`))

    const r = learn(['--profile', 'minimal'], `${dir}/home.yaml`)
    assert.equal(r.status, 0, r.stderr)
    assert.match(
      r.stderr,
      /not granted: working directory .*home: holds secrets \(~\/\.ssh, cloud credentials…\) and other programs' files and sockets/,
    )
    const policy = readFileSync(`${dir}/home.yaml`, 'utf8')
    assert.doesNotMatch(policy, new RegExp(`(ro|rw): ${home}( |$)`, 'm'), policy)
    assert.match(policy, new RegExp(`ro: ${home}/notes.txt`), 'what was read inside is')
    // The policy runs what it learned, and shows nothing else of the directory.
    const again = cordon(['run', '-q', '-p', `${dir}/home.yaml`, '--', 'sh', '-c', 'cat notes.txt'], { env })
    assert.equal(again.status, 0, again.stderr)
    assert.equal(again.stdout, 'notes\n')
    const key = cordon(['run', '-q', '-p', `${dir}/home.yaml`, '--', 'sh', '-c', 'cat .ssh/id_rsa; ls -A'], {
      env,
    })
    assert.doesNotMatch(key.stdout, /PRIVATE-KEY|\.ssh/, key.stdout)
  })

  // From inside ~/.ssh the working directory's bind showed the keys, and from /etc/ssh it
  // replaced the profile's mask of it (helper-138): a project beside them shows neither.
  test('a working directory that is or lies in a secret (~/.ssh, /etc/ssh) is refused, and never shown', () => {
    const home = `${dir}/keyhome`
    mkdirSync(`${home}/.ssh/sub`, { recursive: true })
    writeFileSync(`${home}/.ssh/id_rsa`, 'PRIVATE-KEY\n')
    const env = { HOME: home }
    for (const cwd of [`${home}/.ssh`, `${home}/.ssh/sub`, '/etc/ssh'])
      for (const command of ['run', 'learn']) {
        const r = cordon(
          [command, ...(command === 'learn' ? ['-o', `${dir}/k.yaml`] : []), '--', 'ls', '-A'],
          {
            cwd,
            env,
          },
        )
        assert.equal(r.status, 125, `${command} in ${cwd}: ${r.stdout}`)
        assert.match(r.stderr, /which (is|lies in) .*a place of secrets.*; cd into a project directory/)
      }
    // A policy that binds the working directory (`ro: .`) through the default profile's view:
    // left out, with why, and the command starts in /.
    writeFileSync(`${dir}/dot.yaml`, 'extends: [default]\n')
    const shown = cordon(['run', '-p', `${dir}/dot.yaml`, '--', 'sh', '-c', 'pwd; cat id_rsa'], {
      cwd: `${home}/.ssh`,
      env,
    })
    assert.doesNotMatch(shown.stdout, /PRIVATE-KEY/)
    assert.match(
      shown.stderr,
      /working directory .*\.ssh is not shown to the sandbox: it is a place of secrets/,
    )
    // Another user's keys ($HOME is not theirs: `sudo cordon run` from ~bob/.ssh), a directory
    // holding some (a home by any name, ~/.config with gcloud), and ~/.ssh by another name (a
    // bind mount): each was shown (helper-139).
    const other = `${dir}/bob`
    mkdirSync(`${other}/.ssh`, { recursive: true })
    mkdirSync(`${other}/.config/gcloud`, { recursive: true })
    mkdirSync(`${dir}/sshmount`, { recursive: true })
    const mounted = isRoot && spawnSync('mount', ['--bind', `${home}/.ssh`, `${dir}/sshmount`]).status === 0
    try {
      const cases: [string, RegExp][] = [
        [`${other}/.ssh`, /which is a place of secrets/],
        [other, /which holds .*bob\/\.ssh, a secret/],
        [`${other}/.config`, /which holds .*\.config\/gcloud, a secret/],
        ...(mounted
          ? [
              [`${dir}/sshmount`, /which is .*keyhome\/\.ssh by another name, a place of secrets/] as [
                string,
                RegExp,
              ],
            ]
          : []),
      ]
      for (const [cwd, words] of cases) {
        const r = cordon(['run', '--', 'ls', '-A'], { cwd, env })
        assert.equal(r.status, 125, `run in ${cwd}: ${r.stdout}`)
        assert.match(r.stderr, words)
      }
    } finally {
      if (mounted) spawnSync('umount', [`${dir}/sshmount`])
    }
    // Below a mount of a key directory, and a project holding one mounted under another name
    // (a devcontainer's workspace): file identity, up the way and down the mounts (helper-140).
    if (isRoot) {
      mkdirSync(`${home}/.gnupg/private-keys-v1.d`, { recursive: true })
      mkdirSync(`${dir}/gpgmount`, { recursive: true })
      mkdirSync(`${dir}/ws/keys`, { recursive: true })
      const mounts = [
        [`${home}/.gnupg`, `${dir}/gpgmount`],
        [`${home}/.ssh`, `${dir}/ws/keys`],
      ].filter(([from, to]) => spawnSync('mount', ['--bind', from!, to!]).status === 0)
      try {
        if (mounts.length === 2) {
          const below = cordon(['run', '--', 'true'], { cwd: `${dir}/gpgmount/private-keys-v1.d`, env })
          assert.equal(below.status, 125, below.stderr)
          assert.match(below.stderr, /which lies in .*keyhome\/\.gnupg, a place of secrets/)
          const ws = cordon(['run', '--', 'true'], { cwd: `${dir}/ws`, env })
          assert.equal(ws.status, 125, ws.stderr)
          assert.match(ws.stderr, /which holds .*ws\/keys \(.*keyhome\/\.ssh\), a secret/)
        }
      } finally {
        for (const [, to] of mounts) spawnSync('umount', [to!])
      }
    }
    // Another user's key directory under another name: the homes of /etc/passwd, by identity.
    if (isRoot) {
      const user = ensureTestUser()
      const bobHome = spawnSync('getent', ['passwd', String(user.uid)], { encoding: 'utf8' }).stdout.split(
        ':',
      )[5]
      if (bobHome?.startsWith('/home/')) {
        // Only what the test makes goes again: the home, or its .ssh.
        const made = !existsSync(bobHome) ? bobHome : !existsSync(`${bobHome}/.ssh`) ? `${bobHome}/.ssh` : ''
        mkdirSync(`${bobHome}/.ssh`, { recursive: true })
        mkdirSync(`${dir}/bobkeys`, { recursive: true })
        const mounted = spawnSync('mount', ['--bind', `${bobHome}/.ssh`, `${dir}/bobkeys`]).status === 0
        try {
          if (mounted) {
            const r = cordon(['run', '--', 'true'], { cwd: `${dir}/bobkeys`, env })
            assert.equal(r.status, 125, r.stderr)
            assert.match(r.stderr, new RegExp(`which is ${bobHome}/\\.ssh by another name`))
          }
        } finally {
          if (mounted) spawnSync('umount', [`${dir}/bobkeys`])
          if (made) rmSync(made, { recursive: true, force: true })
        }
      }
    }
    // A project that keeps a .npmrc, a .docker or an .azure directory (azd) of its own, or a file
    // named .ssh, is a project.
    mkdirSync(`${dir}/proj/.docker`, { recursive: true })
    mkdirSync(`${dir}/proj/.azure`, { recursive: true })
    writeFileSync(`${dir}/proj/.npmrc`, 'registry=https://registry.npmjs.org/\n')
    writeFileSync(`${dir}/proj/.ssh`, '')
    const project = cordon(['run', '-q', '--', 'true'], { cwd: `${dir}/proj`, env })
    assert.equal(project.status, 0, project.stderr)
  })

  // One list for both: the platforms' secrets (/run/secrets, SSSD's cache) were protected from
  // a learned grant but not refused as a working directory.
  test('the secrets no project may be are the ones no learned grant covers', () => {
    const protectedByLearn = new Set(protectedPaths())
    for (const s of secretPaths()) assert.ok(protectedByLearn.has(s), s)
    for (const dir of ['/run/secrets/db', '/var/lib/sss/db', '/etc/ssh'])
      assert.match(secretAt(dir)?.secret ?? '', /^\/(run\/secrets|var\/lib\/sss|etc\/ssh)$/, dir)
    assert.ok(protectedPaths(['/srv/extra']).includes('/srv/extra'))
  })

  test('learned in /tmp, the policy does not show the host /tmp', () => {
    const marker = `cordon-learn-tmp-${process.pid}`
    writeFileSync(`/tmp/${marker}`, '')
    try {
      const refused = cordon(['learn', '-o', `${dir}/tmp.yaml`, '--', 'true'], { cwd: '/tmp' })
      assert.equal(refused.status, 125, refused.stderr)
      const r = cordon(
        ['learn', '--profile', 'minimal', '-o', `${dir}/tmp.yaml`, '--', 'sh', '-c', 'ls /usr >/dev/null'],
        { cwd: '/tmp', timeout: 120_000 },
      )
      assert.equal(r.status, 0, r.stderr)
      const policy = readFileSync(`${dir}/tmp.yaml`, 'utf8')
      assert.doesNotMatch(policy, /(ro|rw): \/tmp( |$)/m, policy)
      const seen = cordon(['run', '-q', '-p', `${dir}/tmp.yaml`, '--', 'ls', '-A', '/tmp'])
      assert.equal(seen.status, 0, seen.stderr)
      assert.doesNotMatch(seen.stdout, new RegExp(marker))
    } finally {
      rmSync(`/tmp/${marker}`, { force: true })
    }
  })

  // The working directory is the kernel's real path; the home's checks were spelled from $HOME.
  // A home reached through a link was neither refused nor protected, and learn granted it, its
  // ~/.ssh with it (helper-117); nor did a base's `cwd: HOME/`, whose slash passed them.
  test('a home reached through a link, or spelled with a slash, is not learned whole', () => {
    const real = `${dir}/realhome`
    const link = `${dir}/homelink`
    mkdirSync(`${real}/.ssh`, { recursive: true })
    writeFileSync(`${real}/.ssh/id_ed25519`, 'PRIVATE-KEY\n')
    symlinkSync(real, link)
    const env = { HOME: link }
    const run = cordon(['run', '-q', '--', 'cat', '.ssh/id_ed25519'], { cwd: link, env })
    assert.equal(run.status, 125, run.stdout)
    assert.match(run.stderr, /which holds secrets/)
    const refused = cordon(['learn', '-o', `${dir}/l1.yaml`, '--', 'true'], { cwd: link, env })
    assert.equal(refused.status, 125, refused.stderr)

    const r = cordon(
      [
        'learn',
        '--profile',
        'minimal',
        '-o',
        `${dir}/l2.yaml`,
        '--',
        'sh',
        '-c',
        `ls -a; cat ${real}/.ssh/id_ed25519`,
      ],
      { cwd: link, env, timeout: 120_000 },
    )
    assert.equal(r.status, 0, r.stderr)
    const policy = readFileSync(`${dir}/l2.yaml`, 'utf8')
    assert.doesNotMatch(policy, new RegExp(`- (ro|rw): ${real}`), policy)
    assert.match(policy, new RegExp(`not granted: read ${real}/.ssh/id_ed25519: protected`))

    writeFileSync(`${dir}/base.yaml`, `version: 1\nextends: [default]\ncwd: ${link}/\n`)
    const slash = cordon(
      ['learn', '-p', `${dir}/base.yaml`, '-o', `${dir}/l3.yaml`, '--', 'sh', '-c', 'ls -a >/dev/null'],
      { cwd: dir, env, timeout: 120_000 },
    )
    assert.equal(slash.status, 0, slash.stderr)
    const learned = readFileSync(`${dir}/l3.yaml`, 'utf8')
    assert.doesNotMatch(learned, new RegExp(`- (ro|rw): (${real}|${link})`), learned)
    const key = cordon(['run', '-q', '-p', `${dir}/l3.yaml`, '--', 'sh', '-c', 'cat .ssh/id_ed25519'], {
      env,
    })
    assert.doesNotMatch(key.stdout, /PRIVATE-KEY/)
  })

  // The same directory under another mount (a home bound elsewhere, as /data setups and
  // containers do) matched no name in the lists: run started there and learn granted it whole
  // (helper-118). It is the home by device and inode.
  test('a home bind-mounted elsewhere is a home to run and learn', () => {
    const home = `${dir}/bhome`
    const mnt = `${dir}/bmnt`
    mkdirSync(`${home}/.ssh`, { recursive: true })
    mkdirSync(mnt, { recursive: true })
    writeFileSync(`${home}/.ssh/id_ed25519`, 'PRIVATE-KEY\n')
    writeFileSync(`${home}/notes.txt`, 'notes\n')
    const script = [
      'mount --bind "$1" "$2" && cd "$2" || exit 99',
      `export HOME="$1" NODE_EXTRA_CA_CERTS=`,
      `"${process.execPath}" "${CLI}" run -q -- cat .ssh/id_ed25519; echo "run=$?"`,
      `"${process.execPath}" "${CLI}" learn -q -o "$3/b1.yaml" -- true; echo "learn=$?"`,
      `"${process.execPath}" "${CLI}" learn --profile minimal -q -o "$3/b2.yaml" -- sh -c 'ls -a >/dev/null; cat notes.txt .ssh/id_ed25519 >/dev/null'; echo "minimal=$?"`,
    ].join('\n')
    const r = inPrivateMounts(script, ['sh', home, mnt, dir], dir)
    assert.match(r.stdout, /^run=125$/m, r.stdout + r.stderr)
    assert.doesNotMatch(r.stdout, /PRIVATE-KEY/)
    assert.match(r.stderr, new RegExp(`that is ${mnt}, which is ${home} by another name`))
    assert.match(r.stdout, /^learn=125$/m)
    assert.match(r.stdout, /^minimal=0$/m, r.stderr)
    const policy = readFileSync(`${dir}/b2.yaml`, 'utf8')
    assert.doesNotMatch(policy, new RegExp(`- (ro|rw): ${mnt}( |$)`, 'm'), policy)
    assert.match(policy, new RegExp(`not granted: read ${mnt}/.ssh/id_ed25519: protected`))
    assert.match(policy, new RegExp(`- ro: ${mnt}/notes.txt`))
  })
})
