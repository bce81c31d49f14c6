'use strict';
/*
 * packages/scripts/stage.js and set-version.js, run on copies of the
 * packages and of CMakeLists.txt in a temp dir (never on the work tree).
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const PACKAGES_DIR = path.join(__dirname, '..');
const REPO = path.join(PACKAGES_DIR, '..');
const STAGE = path.join(PACKAGES_DIR, 'scripts', 'stage.js');
const SET_VERSION = path.join(PACKAGES_DIR, 'scripts', 'set-version.js');
const launcher = require(path.join(PACKAGES_DIR, 'cli-node', 'bin', 'occ.js'));

function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occ-npm-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function node(script, args) {
  return spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 20000 });
}

/* root/CMakeLists.txt and root/packages/<dir>/package.json + index.js. */
function copyTree(root) {
  fs.copyFileSync(path.join(REPO, 'CMakeLists.txt'), path.join(root, 'CMakeLists.txt'));
  for (const d of fs.readdirSync(PACKAGES_DIR)) {
    const manifest = path.join(PACKAGES_DIR, d, 'package.json');
    if (!fs.existsSync(manifest)) continue;
    fs.mkdirSync(path.join(root, 'packages', d), { recursive: true });
    fs.copyFileSync(manifest, path.join(root, 'packages', d, 'package.json'));
  }
}

function read(file) {
  return fs.readFileSync(file, 'utf8');
}

/* Lines that differ between two texts of the same length in lines. */
function changedLines(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  assert.equal(x.length, y.length, 'same number of lines');
  return x.map((line, i) => [line, y[i]]).filter(([p, q]) => p !== q);
}

for (const script of [STAGE, SET_VERSION]) {
  test(`${path.basename(script)} --help`, () => {
    const r = node(script, ['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^usage: node packages\/scripts\//);
  });
}

test('stage.js copies the binary into the platform package, mode 755, idempotently', (t) => {
  const root = tmpdir(t);
  copyTree(root);
  const id = ['linux-arm64-musl', 'darwin-arm64'].find((p) => p !== launcher.realPlatform());
  const bin = path.join(root, 'occ-built');
  fs.writeFileSync(bin, '#!/bin/sh\necho fake\n', { mode: 0o700 });
  const dest = path.join(root, 'packages', launcher.packageFor(id).replace(/^opencode-cloud-/, ''), 'bin', 'occ');

  let r = node(STAGE, [bin, '--platform', id, '--packages-dir', path.join(root, 'packages')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /staged/);
  assert.equal(read(dest), read(bin));
  assert.equal(fs.statSync(dest).mode & 0o777, 0o755);
  const mtime = fs.statSync(dest).mtimeMs;

  r = node(STAGE, [bin, '--platform', id, '--packages-dir', path.join(root, 'packages')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /up to date/);
  assert.equal(fs.statSync(dest).mtimeMs, mtime);
});

test('stage.js checks a binary for this machine reports the package version', (t) => {
  const id = launcher.realPlatform();
  if (!launcher.packageFor(id)) return t.skip(`no platform package for ${id}`);
  const root = tmpdir(t);
  copyTree(root);
  const dir = launcher.packageFor(id).replace(/^opencode-cloud-/, '');
  const { version } = JSON.parse(read(path.join(root, 'packages', dir, 'package.json')));
  const bin = path.join(root, 'occ-built');
  const args = [bin, '--packages-dir', path.join(root, 'packages')];

  fs.writeFileSync(bin, '#!/bin/sh\necho "occ 9.9.9"\n', { mode: 0o755 });
  let r = node(STAGE, args);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`expected 'occ ${version.replace(/\./g, '\\.')}'`));
  assert.match(r.stderr, /set-version\.js/);

  fs.writeFileSync(bin, `#!/bin/sh\necho "occ ${version}"\n`, { mode: 0o755 });
  r = node(STAGE, args);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(root, 'packages', dir, 'bin', 'occ')));
});

test('stage.js refuses a missing binary and an unknown platform', (t) => {
  const root = tmpdir(t);
  copyTree(root);
  let r = node(STAGE, [path.join(root, 'none'), '--platform', 'darwin-x64', '--packages-dir', path.join(root, 'packages')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no binary at .*cmake -S \. -B build/s);
  r = node(STAGE, [STAGE, '--platform', 'freebsd-x64', '--packages-dir', path.join(root, 'packages')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no platform package for 'freebsd-x64'/);
});

test('set-version.js changes only the version lines, everywhere, idempotently', (t) => {
  const root = tmpdir(t);
  copyTree(root);
  const files = [
    path.join(root, 'CMakeLists.txt'),
    ...fs.readdirSync(path.join(root, 'packages')).map((d) => path.join(root, 'packages', d, 'package.json')),
  ];
  const before = new Map(files.map((f) => [f, read(f)]));
  const old = /^project\(occ VERSION ([0-9.]+)/m.exec(before.get(files[0]))[1];

  let r = node(SET_VERSION, ['12.34.56', '--root', root]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `12.34.56: ${files.length} of ${files.length} files changed\n`);

  /* CMakeLists.txt: exactly the project() line, only its version. */
  const cm = changedLines(before.get(files[0]), read(files[0]));
  assert.equal(cm.length, 1);
  assert.equal(cm[0][1], cm[0][0].replace(`VERSION ${old}`, 'VERSION 12.34.56'));

  for (const f of files.slice(1)) {
    const pkg = JSON.parse(read(f));
    assert.equal(pkg.version, '12.34.56', f);
    for (const [name, spec] of Object.entries(pkg.optionalDependencies || {})) {
      assert.equal(spec, '12.34.56', `${f}: ${name}`);
    }
    /* Every changed line is a version or a pin, and only its value changed. */
    for (const [a, b] of changedLines(before.get(f), read(f))) {
      assert.match(a, /^\s+"(version|opencode-cloud-[a-z0-9-]+)": "[0-9.]+",?$/);
      assert.equal(b, a.replace(/"[0-9.]+"(,?)$/, '"12.34.56"$1'));
    }
  }

  const after = new Map(files.map((f) => [f, read(f)]));
  r = node(SET_VERSION, ['12.34.56', '--root', root]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `12.34.56: 0 of ${files.length} files changed\n`);
  for (const f of files) assert.equal(read(f), after.get(f), `${f} unchanged`);

  r = node(SET_VERSION, ['--check', '--root', root]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '12.34.56\n');

  /* Back to the original version: byte-for-byte the committed files. */
  r = node(SET_VERSION, [old, '--root', root]);
  assert.equal(r.status, 0, r.stderr);
  for (const f of files) assert.equal(read(f), before.get(f), `${f} restored`);
});

test('set-version.js --check reports a disagreeing file', (t) => {
  const root = tmpdir(t);
  copyTree(root);
  const f = path.join(root, 'packages', 'darwin-x64', 'package.json');
  fs.writeFileSync(f, read(f).replace(/"version": "[0-9.]+"/, '"version": "0.0.1"'));
  const r = node(SET_VERSION, ['--check', '--root', root]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /darwin-x64\/package\.json: 0\.0\.1, expected/);
});

test('set-version.js rejects what CMake cannot hold', (t) => {
  const root = tmpdir(t);
  copyTree(root);
  for (const v of ['1.2', '1.2.3-beta.1', 'v1.2.3', '01.2.3', '1.2.3.4']) {
    const r = node(SET_VERSION, [v, '--root', root]);
    assert.equal(r.status, 64, v);
    assert.match(r.stderr, /is not X\.Y\.Z/);
  }
  assert.equal(node(SET_VERSION, ['--root', root]).status, 64);
});

test('the work tree agrees with itself (set-version.js --check)', () => {
  const r = node(SET_VERSION, ['--check']);
  assert.equal(r.status, 0, r.stderr);
});
