'use strict';
/*
 * `npm install -g opencode-cloud` end to end, without a registry: stage the
 * real build/cli/occ into a copy of this machine's platform package, `npm
 * pack` it and the launcher package, install both tarballs into a temp
 * prefix, and run the two commands npm linked.
 *
 * build/cli/occ missing: it is built here with CMake (as README says), unless
 * OCC_SKIP_NATIVE=1, which skips this test with a message instead.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const PACKAGES_DIR = path.join(__dirname, '..');
const REPO = path.join(PACKAGES_DIR, '..');
const NATIVE = path.join(REPO, 'build', 'cli', 'occ');
const launcher = require(path.join(PACKAGES_DIR, 'cli-node', 'bin', 'occ.js'));

function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occ-npm-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600000, ...opts });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function ensureNative(t) {
  if (fs.existsSync(NATIVE)) return true;
  if (process.env.OCC_SKIP_NATIVE === '1') {
    t.skip(`OCC_SKIP_NATIVE=1 and no ${path.relative(REPO, NATIVE)}: the npm install test needs the real binary`);
    return false;
  }
  t.diagnostic(`${path.relative(REPO, NATIVE)} missing: building it with CMake`);
  sh('cmake', ['-S', REPO, '-B', path.join(REPO, 'build'), '-DCMAKE_BUILD_TYPE=RelWithDebInfo'], { stdio: 'inherit' });
  sh('cmake', ['--build', path.join(REPO, 'build'), '--target', 'occ_cli', '-j', String(os.cpus().length)], { stdio: 'inherit' });
  return true;
}

test('npm install -g of the packed packages gives a working occ and opencode-cloud', { timeout: 900000 }, (t) => {
  const id = launcher.realPlatform();
  const pkgName = launcher.packageFor(id);
  if (!pkgName) return t.skip(`no platform package for this machine (${id})`);
  if (!ensureNative(t)) return;

  const tmp = tmpdir(t);
  const dir = pkgName.replace(/^opencode-cloud-/, '');
  const { version } = JSON.parse(fs.readFileSync(path.join(PACKAGES_DIR, 'cli-node', 'package.json'), 'utf8'));

  /* Stage into a copy, so the test leaves packages/<dir>/bin alone. */
  const packages = path.join(tmp, 'packages');
  fs.cpSync(path.join(PACKAGES_DIR, dir), path.join(packages, dir), { recursive: true });
  fs.rmSync(path.join(packages, dir, 'bin', 'occ'), { force: true });
  sh(process.execPath, [path.join(PACKAGES_DIR, 'scripts', 'stage.js'), NATIVE, '--packages-dir', packages]);

  /*
   * npm only ever sees local files. A fresh cache, --offline and a dead
   * registry URL keep it off the network:
   * - the launcher's optionalDependencies (the six platform packages, pinned
   *   to this version) are not published from here. npm 11 resolves the
   *   manifest of every one of them while building the tree, even with
   *   --omit=optional (that only skips writing them to disk), so --omit does
   *   not keep it offline. With --offline each lookup fails at once with
   *   ENOTCACHED, and npm drops a failed *optional* dependency instead of
   *   failing the install.
   * - the platform tarball passed on the same command line becomes a second
   *   global package, lib/node_modules/opencode-cloud-<platform>, next to
   *   lib/node_modules/opencode-cloud: the launcher's require() finds it by
   *   walking up node_modules, exactly where a registry install nests it.
   */
  const npmEnv = {
    ...process.env,
    npm_config_cache: path.join(tmp, 'npm-cache'),
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  delete npmEnv.NODE_TEST_CONTEXT;
  const dist = path.join(tmp, 'dist');
  fs.mkdirSync(dist);
  const pack = (from) => {
    const out = sh('npm', ['pack', from, '--pack-destination', dist, '--json', '--offline'], { env: npmEnv });
    const [info] = JSON.parse(out);
    assert.ok(info.files.some((f) => f.path !== 'package.json'), `${from}: packed files`);
    return { tgz: path.join(dist, info.filename), files: info.files.map((f) => f.path).sort() };
  };
  const main = pack(path.join(PACKAGES_DIR, 'cli-node'));
  const plat = pack(path.join(packages, dir));
  assert.deepEqual(main.files, ['README.md', 'bin/occ.js', 'package.json']);
  assert.deepEqual(plat.files, ['bin/occ', 'index.js', 'package.json']);

  const prefix = path.join(tmp, 'prefix');
  sh('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', main.tgz, plat.tgz],
    { env: npmEnv });

  const modules = path.join(prefix, 'lib', 'node_modules');
  assert.deepEqual(fs.readdirSync(modules).sort(), ['opencode-cloud', pkgName].sort());
  assert.ok(!fs.existsSync(path.join(modules, 'opencode-cloud', 'node_modules')),
    'no other platform package was installed');
  assert.ok(fs.readFileSync(path.join(modules, pkgName, 'bin', 'occ')).equals(fs.readFileSync(NATIVE)),
    'the installed binary is build/cli/occ');

  /* Run from elsewhere, without the source tree's fallbacks in reach. */
  const runEnv = { ...process.env };
  delete runEnv.OCC_BINARY;
  delete runEnv.OCC_NPM_PLATFORM;
  for (const cmd of ['occ', 'opencode-cloud']) {
    const r = spawnSync(path.join(prefix, 'bin', cmd), ['--version'], { cwd: tmp, env: runEnv, encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd} --version: ${r.stderr}`);
    assert.equal(r.stdout.trim(), `occ ${version}`);
  }
});
