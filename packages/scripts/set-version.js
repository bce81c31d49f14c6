#!/usr/bin/env node
'use strict';
/*
 * set-version.js - one version for the C build and every npm package:
 *   - project(occ VERSION X.Y.Z ...) in the top-level CMakeLists.txt (the
 *     binary's `occ --version` comes from there);
 *   - "version" in packages/<every package>/package.json;
 *   - the exact optionalDependencies pins in packages/cli-node/package.json.
 * Only those values change: the CMake edit touches one line and is checked
 * for it; package.json files are rewritten with 2-space indentation, as
 * they are committed. Idempotent: files already at X.Y.Z are not written.
 */

const fs = require('fs');
const path = require('path');

const USAGE = `usage: node packages/scripts/set-version.js X.Y.Z [--root DIR]
       node packages/scripts/set-version.js --check [--root DIR]

Set X.Y.Z in CMakeLists.txt (project VERSION), every packages/*/package.json
and the optionalDependencies pins of packages/cli-node. CMake versions are
numeric, so X.Y.Z is three numbers (no pre-release suffix).

  --check     print the version; exit 1 if the files disagree
  --root DIR  the repository root (default: two levels above this script)
  -h, --help  this text`;

const PROJECT_RE = /^(project\(occ\s+VERSION\s+)([0-9]+(?:\.[0-9]+)*)(\b.*)$/m;
const PLATFORM_PREFIX = 'opencode-cloud-';

function fail(msg, code = 1) {
  process.stderr.write(`set-version: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const opts = { version: null, check: false, root: path.join(__dirname, '..', '..') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a === '--check') {
      opts.check = true;
    } else if (a === '--root') {
      if (i + 1 >= argv.length) fail('--root needs a value', 64);
      opts.root = path.resolve(argv[++i]);
    } else if (!a.startsWith('-') && opts.version === null) {
      opts.version = a;
    } else {
      process.stderr.write(`${USAGE}\n`);
      process.exit(64);
    }
  }
  if (opts.check === (opts.version !== null)) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(64);
  }
  if (opts.version !== null && !/^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/.test(opts.version)) {
    fail(`'${opts.version}' is not X.Y.Z (three numbers, no leading zeros)`, 64);
  }
  return opts;
}

/* packages/<dir>/package.json for every package directory. */
function manifests(root) {
  const dir = path.join(root, 'packages');
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(dir, d.name, 'package.json'))
    .filter((p) => fs.existsSync(p))
    .sort();
}

function readCmake(root) {
  const file = path.join(root, 'CMakeLists.txt');
  const text = fs.readFileSync(file, 'utf8');
  const m = PROJECT_RE.exec(text);
  if (!m) fail(`no 'project(occ VERSION ...)' line in ${file}`);
  return { file, text, version: m[2] };
}

/* Every version in one place: [{ where, version }]. */
function collect(root) {
  const cm = readCmake(root);
  const out = [{ where: path.relative(root, cm.file), version: cm.version }];
  for (const file of manifests(root)) {
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
    const rel = path.relative(root, file);
    out.push({ where: rel, version: pkg.version });
    for (const [name, spec] of Object.entries(pkg.optionalDependencies || {})) {
      if (name.startsWith(PLATFORM_PREFIX)) out.push({ where: `${rel} optionalDependencies.${name}`, version: spec });
    }
  }
  return out;
}

function check(root) {
  const all = collect(root);
  const want = all[0].version;
  const bad = all.filter((e) => e.version !== want);
  for (const e of bad) process.stderr.write(`set-version: ${e.where}: ${e.version}, expected ${want}\n`);
  if (bad.length) process.exit(1);
  process.stdout.write(`${want}\n`);
}

function setCmake(root, version) {
  const cm = readCmake(root);
  const next = cm.text.replace(PROJECT_RE, `$1${version}$3`);
  const before = cm.text.split('\n');
  const after = next.split('\n');
  const changed = before.filter((line, i) => line !== after[i]);
  if (before.length !== after.length || changed.length > 1) {
    fail(`refusing to edit ${cm.file}: the edit would touch more than the project() line`);
  }
  return write(cm.file, cm.text, next);
}

function setManifest(file, version) {
  const text = fs.readFileSync(file, 'utf8');
  const pkg = JSON.parse(text);
  pkg.version = version;
  for (const name of Object.keys(pkg.optionalDependencies || {})) {
    if (name.startsWith(PLATFORM_PREFIX)) pkg.optionalDependencies[name] = version;
  }
  return write(file, text, `${JSON.stringify(pkg, null, 2)}\n`);
}

/* Temp file + rename; nothing written when the content is the same. */
function write(file, before, after) {
  if (before === after) return false;
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, after);
  fs.renameSync(tmp, file);
  return true;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.check) return check(opts.root);
  const files = [path.join(opts.root, 'CMakeLists.txt'), ...manifests(opts.root)];
  let n = 0;
  if (setCmake(opts.root, opts.version)) n++;
  for (const file of files.slice(1)) if (setManifest(file, opts.version)) n++;
  process.stdout.write(`${opts.version}: ${n} of ${files.length} files changed\n`);
}

main();
