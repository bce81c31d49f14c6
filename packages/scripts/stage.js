#!/usr/bin/env node
'use strict';
/*
 * stage.js - copy a freshly built occ binary into the platform package that
 * matches it (packages/<platform>/bin/occ, mode 755), ready for `npm pack`.
 * Idempotent: staging the same binary again changes nothing.
 */

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const launcher = require('../cli-node/bin/occ.js');

const REPO = path.join(__dirname, '..', '..');

const USAGE = `usage: node packages/scripts/stage.js [BINARY] [--platform ID] [--packages-dir DIR]

Copy BINARY (default: build/cli/occ) to DIR/<platform>/bin/occ with mode 755.

  --platform ID       platform id of the binary: ${Object.keys(launcher.PACKAGES).join(', ')}
                      (default: this machine's, ${launcher.realPlatform()})
  --packages-dir DIR  where the platform packages live (default: packages/)
  -h, --help          this text

When the binary is for this machine, it is run with --version first and must
print "occ <version>" with the platform package's version (see set-version.js).`;

function fail(msg) {
  process.stderr.write(`stage: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { binary: null, platform: null, packagesDir: path.join(REPO, 'packages') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a === '--platform' || a === '--packages-dir') {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      opts[a === '--platform' ? 'platform' : 'packagesDir'] = argv[++i];
    } else if (a.startsWith('-')) {
      process.stderr.write(`${USAGE}\n`);
      process.exit(64);
    } else if (opts.binary === null) {
      opts.binary = a;
    } else {
      fail(`unexpected argument '${a}'`);
    }
  }
  opts.binary = path.resolve(opts.binary || path.join(REPO, 'build', 'cli', 'occ'));
  return opts;
}

/* The binary must report the version the package will be published as. */
function checkVersion(binary, version) {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (r.error) fail(`cannot run '${binary} --version': ${r.error.message}`);
  const got = (r.stdout || '').trim();
  if (got !== `occ ${version}`) {
    fail(`'${binary} --version' prints '${got}', expected 'occ ${version}':\n` +
      `set one version everywhere with: node packages/scripts/set-version.js ${version}`);
  }
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const id = opts.platform || launcher.realPlatform();
  const pkgName = launcher.packageFor(id);
  if (!pkgName) fail(`no platform package for '${id}' (known: ${Object.keys(launcher.PACKAGES).join(', ')})`);
  const pkgDir = path.join(opts.packagesDir, pkgName.replace(/^opencode-cloud-/, ''));
  const manifestPath = path.join(pkgDir, 'package.json');
  if (!fs.existsSync(manifestPath)) fail(`'${manifestPath}' does not exist`);
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  if (manifest.name !== pkgName) fail(`'${manifestPath}' is '${manifest.name}', expected '${pkgName}'`);

  let st;
  try {
    st = fs.statSync(opts.binary);
  } catch (_) {
    fail(`no binary at '${opts.binary}': build it first:\n` +
      '    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j"$(nproc)"');
  }
  if (!st.isFile()) fail(`'${opts.binary}' is not a file`);
  if (id === launcher.realPlatform()) checkVersion(opts.binary, manifest.version);

  const dest = path.join(pkgDir, 'bin', 'occ');
  const data = fs.readFileSync(opts.binary);
  let same = false;
  try {
    same = fs.readFileSync(dest).equals(data) && (fs.statSync(dest).mode & 0o777) === 0o755;
  } catch (_) {
    /* Not staged yet. */
  }
  if (same) {
    process.stdout.write(`${path.relative(process.cwd(), dest) || dest}: up to date (${pkgName}@${manifest.version})\n`);
    return;
  }
  /* Temp file + rename: a concurrent `npm pack` never sees half a binary. */
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, data, { mode: 0o755 });
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, dest);
  process.stdout.write(`${path.relative(process.cwd(), dest) || dest}: staged ${opts.binary} (${pkgName}@${manifest.version})\n`);
}

main();
