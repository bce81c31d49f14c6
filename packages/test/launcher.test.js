'use strict';
/*
 * The npm launcher (packages/cli-node/bin/occ.js) against fake native
 * binaries: small shell scripts written into a temp dir and selected with
 * OCC_BINARY, or laid out like an installed platform package / a source
 * build. Checks arguments, stdio, exit codes and signals pass straight
 * through, where the binary is found, and the message when none fits.
 *
 * Helpers are repeated in each test file on purpose: node --test treats every
 * .js file under packages/test/ as a test file.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const PACKAGES_DIR = path.join(__dirname, '..');
const REPO = path.join(PACKAGES_DIR, '..');
const LAUNCHER = path.join(PACKAGES_DIR, 'cli-node', 'bin', 'occ.js');
const launcher = require(LAUNCHER);

/*
 * A temp dir removed after the test. Long-running fakes write their pid to
 * DIR/ready: whatever a failed test left running is killed first.
 */
function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occ-npm-'));
  t.after(() => {
    try {
      const pid = Number(fs.readFileSync(path.join(dir, 'ready'), 'utf8'));
      /* Never 0 or negative: that would be a whole process group. */
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGKILL');
    } catch (_) {
      /* No fake running, as it should be. */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/* A fake `occ`: a /bin/sh script with the given body. */
function fake(file, body) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

/* The environment minus anything that steers the launcher, plus extra. */
function env(extra = {}) {
  const e = { ...process.env };
  delete e.OCC_BINARY;
  delete e.OCC_NPM_PLATFORM;
  delete e.NODE_TEST_CONTEXT;
  return { ...e, ...extra };
}

function run(args, opts = {}) {
  return spawnSync(process.execPath, [opts.launcher || LAUNCHER, ...args], {
    env: env(opts.env),
    input: opts.input,
    encoding: 'utf8',
    timeout: 20000,
  });
}

function waitFor(file, ms = 10000) {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (fs.existsSync(file)) return resolve();
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${file}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

function exited(child) {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

test('arguments reach the binary verbatim', (t) => {
  const bin = fake(path.join(tmpdir(t), 'occ'), `for a in "$@"; do printf '[%s]\\n' "$a"; done`);
  const args = ['apply', '-f', 'my state.yaml', '', '--set=$HOME', "it's", 'ünïcödé', '*', '-'];
  const r = run(args, { env: { OCC_BINARY: bin } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, args.map((a) => `[${a}]\n`).join(''));
});

test('stdin, stdout and stderr are the caller\'s own', (t) => {
  const bin = fake(path.join(tmpdir(t), 'occ'), 'cat; echo "to stderr" >&2');
  const input = 'version: 1\nname: x\n'.repeat(1000);
  const r = run([], { env: { OCC_BINARY: bin }, input });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, input);
  assert.equal(r.stderr, 'to stderr\n');
});

for (const code of [0, 1, 2, 64, 127, 255]) {
  test(`exit code ${code} is the launcher's exit code`, (t) => {
    const bin = fake(path.join(tmpdir(t), 'occ'), 'exit "$1"');
    const r = run([String(code)], { env: { OCC_BINARY: bin } });
    assert.equal(r.signal, null);
    assert.equal(r.status, code);
  });
}

/* A signal sent to the launcher reaches the child, which handles it. */
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  test(`${sig} to the launcher is forwarded to the binary`, async (t) => {
    const dir = tmpdir(t);
    const name = sig.slice(3);
    const num = os.constants.signals[sig];
    const bin = fake(path.join(dir, 'occ'), [
      `trap 'kill $pid 2>/dev/null; echo ${name} > "$1"; exit ${128 + num}' ${name}`,
      'sleep 10 & pid=$!',
      'echo $$ > "$2"',
      'wait $pid',
    ].join('\n'));
    const marker = path.join(dir, 'marker');
    const ready = path.join(dir, 'ready');
    const child = spawn(process.execPath, [LAUNCHER, marker, ready], {
      env: env({ OCC_BINARY: bin }), stdio: 'ignore',
    });
    const done = exited(child);
    await waitFor(ready);
    child.kill(sig);
    const { code, signal } = await done;
    assert.equal(fs.readFileSync(marker, 'utf8'), `${name}\n`);
    assert.equal(signal, null);
    assert.equal(code, 128 + num);
  });
}

/* The child keeps the default disposition: both die by the signal. */
test('SIGTERM kills a binary that does not catch it, and the launcher with it', async (t) => {
  const dir = tmpdir(t);
  const ready = path.join(dir, 'ready');
  const bin = fake(path.join(dir, 'occ'), 'echo $$ > "$1"; exec sleep 10');
  const child = spawn(process.execPath, [LAUNCHER, ready], {
    env: env({ OCC_BINARY: bin }), stdio: 'ignore',
  });
  const done = exited(child);
  await waitFor(ready);
  child.kill('SIGTERM');
  assert.deepEqual(await done, { code: null, signal: 'SIGTERM' });
});

/* The binary dies by a signal on its own: the launcher re-raises it. */
for (const sig of ['SIGINT', 'SIGTERM', 'SIGKILL']) {
  test(`a binary killed by ${sig} makes the launcher die by ${sig}`, (t) => {
    const bin = fake(path.join(tmpdir(t), 'occ'), `kill -${sig.slice(3)} $$; sleep 5`);
    const r = run([], { env: { OCC_BINARY: bin } });
    assert.equal(r.status, null);
    assert.equal(r.signal, sig);
  });
}

test('no binary for the platform: names it, the package, and the build', () => {
  const r = run(['--version'], { env: { OCC_NPM_PLATFORM: 'freebsd-x64' } });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /platform 'freebsd-x64'/);
  assert.match(r.stderr, /'opencode-cloud-freebsd-x64'/);
  assert.match(r.stderr, /cmake -S \. -B build -DCMAKE_BUILD_TYPE=Release/);
  assert.match(r.stderr, /cmake --build build/);
  assert.match(r.stderr, /OCC_BINARY/);
});

test('a known platform whose package is not installed: names the package', () => {
  const id = ['linux-arm64-musl', 'darwin-x64'].find((p) => p !== launcher.realPlatform());
  const r = run(['--version'], { env: { OCC_NPM_PLATFORM: id } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`platform '${id}'`));
  assert.match(r.stderr, new RegExp(`'${launcher.packageFor(id)}' is not installed`));
  assert.match(r.stderr, /cmake -S \. -B build/);
});

test('OCC_BINARY that does not exist is an error, not a fallback', (t) => {
  const missing = path.join(tmpdir(t), 'nope');
  const r = run([], { env: { OCC_BINARY: missing } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`OCC_BINARY is set to '${missing}'`));
});

test('a binary that cannot be executed is reported, exit 1', (t) => {
  const bin = path.join(tmpdir(t), 'occ');
  fs.writeFileSync(bin, 'not a program', { mode: 0o644 });
  const r = run([], { env: { OCC_BINARY: bin } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot run '.*occ': .*EACCES/);
});

/* Lay the launcher out as npm does for `npm install -g` and as the repo does. */
function copyLauncher(dest) {
  fs.mkdirSync(path.join(dest, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(PACKAGES_DIR, 'cli-node', 'package.json'), path.join(dest, 'package.json'));
  fs.copyFileSync(LAUNCHER, path.join(dest, 'bin', 'occ.js'));
  return path.join(dest, 'bin', 'occ.js');
}

test('the installed platform package is found next to the launcher', (t) => {
  const id = launcher.realPlatform();
  const pkg = launcher.packageFor(id);
  if (!pkg) return t.skip(`no platform package for ${id}`);
  const modules = path.join(tmpdir(t), 'lib', 'node_modules');
  const script = copyLauncher(path.join(modules, 'opencode-cloud'));
  const pkgDir = path.join(modules, pkg);
  fake(path.join(pkgDir, 'bin', 'occ'), 'echo "platform package: $*"');
  fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: pkg, version: '0.0.0' }));
  fs.copyFileSync(path.join(PACKAGES_DIR, pkg.replace(/^opencode-cloud-/, ''), 'index.js'),
    path.join(pkgDir, 'index.js'));

  let r = run(['a', 'b'], { launcher: script });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'platform package: a b\n');

  /* OCC_BINARY wins over the package. */
  const over = fake(path.join(tmpdir(t), 'occ'), 'echo override');
  r = run([], { launcher: script, env: { OCC_BINARY: over } });
  assert.equal(r.stdout, 'override\n');
});

test('in a source tree the launcher falls back to build/cli/occ', (t) => {
  const root = tmpdir(t);
  const script = copyLauncher(path.join(root, 'packages', 'cli-node'));
  fake(path.join(root, 'build', 'cli', 'occ'), 'echo "dev build: $*"');

  let r = run(['x'], { launcher: script });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'dev build: x\n');

  /* A forced other platform cannot use a build made for this one. */
  r = run(['x'], { launcher: script, env: { OCC_NPM_PLATFORM: 'freebsd-x64' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /freebsd-x64/);
});

test('the platform id has the libc on Linux only', () => {
  const id = launcher.realPlatform();
  assert.ok(id.startsWith(`${process.platform}-${process.arch}`), id);
  if (process.platform === 'linux') {
    assert.match(id, /-(glibc|musl)$/);
    assert.equal(id.endsWith('-musl'), launcher.detectLibc() === 'musl');
  } else {
    assert.equal(id, `${process.platform}-${process.arch}`);
  }
  assert.equal(launcher.platformId({ OCC_NPM_PLATFORM: 'freebsd-x64' }), 'freebsd-x64');
});

/* The launcher's table, the package directories and their manifests agree. */
test('platform packages match the launcher table and one version', () => {
  const main = JSON.parse(fs.readFileSync(path.join(PACKAGES_DIR, 'cli-node', 'package.json'), 'utf8'));
  const cmake = fs.readFileSync(path.join(REPO, 'CMakeLists.txt'), 'utf8');
  const version = /^project\(occ\s+VERSION\s+([0-9.]+)/m.exec(cmake)[1];
  assert.equal(main.version, version, 'cli-node version = CMake project VERSION');
  assert.deepEqual(main.bin, { occ: 'bin/occ.js', 'opencode-cloud': 'bin/occ.js' });

  const names = Object.values(launcher.PACKAGES).sort();
  assert.deepEqual(Object.keys(main.optionalDependencies).sort(), names);
  for (const [id, name] of Object.entries(launcher.PACKAGES)) {
    assert.equal(main.optionalDependencies[name], version, `${name} pinned exactly`);
    const dir = path.join(PACKAGES_DIR, name.replace(/^opencode-cloud-/, ''));
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const [plat, cpu, libc] = id.split('-');
    assert.equal(pkg.name, name);
    assert.equal(pkg.version, version);
    assert.deepEqual(pkg.os, [plat]);
    assert.deepEqual(pkg.cpu, [cpu]);
    if (plat === 'linux') assert.deepEqual(pkg.libc, [libc]);
    else assert.equal(pkg.libc, undefined);
    assert.ok(pkg.files.includes('bin/occ') && pkg.files.includes('index.js'), `${name} files`);
    assert.equal(require(path.join(dir, 'index.js')), path.join(dir, 'bin', 'occ'));
  }
});
