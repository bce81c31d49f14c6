#!/usr/bin/env node
'use strict';
/*
 * occ / opencode-cloud launcher.
 *
 * This file holds no command logic: it finds the native `occ` binary and runs
 * it with the same arguments, the same stdin/stdout/stderr, and hands back its
 * exit status (a code, or death by the same signal).
 *
 * Where the binary comes from, first match wins:
 *   1. $OCC_BINARY, when set (a path; it must exist).
 *   2. The platform package for this machine, one of the optionalDependencies
 *      (opencode-cloud-linux-x64, ...-linux-x64-musl, ...-darwin-arm64, ...):
 *      npm installs only the one whose os/cpu/libc fields match.
 *   3. A development build in the source tree: ../../build/cli/occ relative to
 *      this package (packages/cli-node -> build/cli/occ), when present and when
 *      the platform is the real one (see OCC_NPM_PLATFORM).
 *
 * Test hook: OCC_NPM_PLATFORM=<id> (e.g. freebsd-x64, linux-arm64-musl)
 * replaces the detected platform id. A forced id different from the real one
 * also disables the development fallback, which was built for the real one.
 *
 * Exported for the tests and packages/scripts/stage.js when required.
 */

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const PACKAGE_ROOT = path.join(__dirname, '..');
const DEV_BINARY = path.join(PACKAGE_ROOT, '..', '..', 'build', 'cli', 'occ');

/* Platform id -> npm package holding the binary. The directory of each under
 * packages/ is the name without the "opencode-cloud-" prefix. */
const PACKAGES = {
  'linux-x64-glibc': 'opencode-cloud-linux-x64',
  'linux-arm64-glibc': 'opencode-cloud-linux-arm64',
  'linux-x64-musl': 'opencode-cloud-linux-x64-musl',
  'linux-arm64-musl': 'opencode-cloud-linux-arm64-musl',
  'darwin-x64': 'opencode-cloud-darwin-x64',
  'darwin-arm64': 'opencode-cloud-darwin-arm64',
};

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const BUILD_HINT = [
  'To build occ from source (Debian 12: apt-get install build-essential cmake',
  'pkg-config libyaml-dev libcurl4-openssl-dev libjansson-dev libev-dev',
  'libssh2-1-dev libssl-dev libcrypt-dev), in a clone of the occ repository:',
  '',
  '    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release',
  '    cmake --build build -j"$(nproc)"',
  '    sudo cmake --install build',
  '',
  'or point OCC_BINARY at a built occ binary.',
].join('\n');

/*
 * glibc or musl. Node's own report says which glibc it runs on; a musl build
 * of Node has no glibcVersionRuntime. Without the report, look for Alpine's
 * marker file and the musl dynamic loader, then ask ldd.
 */
function detectLibc() {
  if (process.report && typeof process.report.getReport === 'function') {
    /* Skip the network part of the report: it can be slow on some hosts. */
    const hadExclude = 'excludeNetwork' in process.report;
    const saved = hadExclude ? process.report.excludeNetwork : undefined;
    try {
      if (hadExclude) process.report.excludeNetwork = true;
      const header = process.report.getReport().header || {};
      return header.glibcVersionRuntime ? 'glibc' : 'musl';
    } catch (_) {
      /* Fall through to the file-system probes. */
    } finally {
      if (hadExclude) process.report.excludeNetwork = saved;
    }
  }
  if (fs.existsSync('/etc/alpine-release')) return 'musl';
  try {
    if (fs.readdirSync('/lib').some((f) => f.startsWith('ld-musl-'))) return 'musl';
  } catch (_) {
    /* No /lib: keep probing. */
  }
  const ldd = spawnSync('ldd', ['--version'], { encoding: 'utf8' });
  if (/musl/i.test(`${ldd.stdout || ''}${ldd.stderr || ''}`)) return 'musl';
  return 'glibc';
}

/* The real platform id: "linux-x64-glibc", "darwin-arm64", "freebsd-x64"... */
function realPlatform() {
  const id = `${process.platform}-${process.arch}`;
  return process.platform === 'linux' ? `${id}-${detectLibc()}` : id;
}

function platformId(env = process.env) {
  return env.OCC_NPM_PLATFORM || realPlatform();
}

function packageFor(id) {
  return PACKAGES[id] || null;
}

/* The binary path exported by the platform package, or null. */
function fromPlatformPackage(pkg) {
  if (!pkg) return null;
  try {
    const bin = require(pkg);
    return typeof bin === 'string' && fs.existsSync(bin) ? bin : null;
  } catch (_) {
    return null;
  }
}

/*
 * Returns { binary } or { error } (a message for stderr). Pure apart from
 * reading the file system, so the tests call it directly.
 */
function resolveBinary(env = process.env) {
  if (env.OCC_BINARY) {
    if (fs.existsSync(env.OCC_BINARY)) return { binary: env.OCC_BINARY };
    return { error: `occ: OCC_BINARY is set to '${env.OCC_BINARY}', which does not exist` };
  }
  const id = platformId(env);
  const pkg = packageFor(id);
  const bin = fromPlatformPackage(pkg);
  if (bin) return { binary: bin };
  const forced = env.OCC_NPM_PLATFORM && env.OCC_NPM_PLATFORM !== realPlatform();
  if (!forced && fs.existsSync(DEV_BINARY)) return { binary: DEV_BINARY };

  const lines = [];
  if (pkg) {
    lines.push(`occ: no native binary for platform '${id}': package '${pkg}' is not installed.`);
    lines.push(`npm installs it as an optional dependency of opencode-cloud; reinstall with`);
    lines.push(`optional dependencies enabled (not --omit=optional / --no-optional):`);
    lines.push('');
    lines.push('    npm install -g opencode-cloud');
  } else {
    const known = Object.keys(PACKAGES).join(', ');
    lines.push(`occ: no prebuilt binary for platform '${id}': there is no package`);
    lines.push(`'opencode-cloud-${id}' (prebuilt: ${known}).`);
  }
  lines.push('');
  lines.push(BUILD_HINT);
  return { error: lines.join('\n') };
}

/* Run the binary; mirror its exit code or terminating signal. */
function run(binary, args) {
  let child = null;
  /*
   * Forward the usual termination signals, so `kill PID` on the launcher
   * (a supervisor, a CI timeout) reaches occ. A terminal's Ctrl-C already
   * reaches the whole foreground process group, so there the child sees
   * SIGINT twice, from the terminal and from us, within microseconds.
   * Installed before spawn(): the child may run (and be signalled through
   * us) before the statement after spawn() does, and listeners only ever
   * run from the event loop, after `child` is set.
   */
  const handlers = {};
  for (const sig of FORWARDED_SIGNALS) {
    handlers[sig] = () => {
      try {
        child.kill(sig);
      } catch (_) {
        /* The child is already gone: its exit event follows. */
      }
    };
    process.on(sig, handlers[sig]);
  }
  child = spawn(binary, args, { stdio: 'inherit' });

  child.on('error', (err) => {
    process.stderr.write(`occ: cannot run '${binary}': ${err.message}\n`);
    process.exit(1);
  });

  child.on('exit', (code, signal) => {
    for (const sig of FORWARDED_SIGNALS) process.removeListener(sig, handlers[sig]);
    if (signal) {
      /*
       * Die by the same signal so our parent (a shell, a supervisor) sees
       * it. Node ignores some signals (SIGPIPE) or handles them itself; if we
       * are still alive shortly after, exit like a shell would: 128 + n.
       */
      const num = os.constants.signals[signal] || 0;
      try {
        process.kill(process.pid, signal);
      } catch (_) {
        /* Fall through to the exit code. */
      }
      process.exitCode = 128 + num;
      setTimeout(() => process.exit(128 + num), 200);
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}

function main() {
  const found = resolveBinary(process.env);
  if (found.error) {
    process.stderr.write(`${found.error}\n`);
    process.exit(1);
  }
  run(found.binary, process.argv.slice(2));
}

if (require.main === module) {
  main();
} else {
  module.exports = { PACKAGES, DEV_BINARY, detectLibc, realPlatform, platformId, packageFor, resolveBinary };
}
