#!/usr/bin/env node
// `npm test`: runs ava on the compiled tests (npm ci / npm run build must
// have run) and closes with "N passed, N failed[, N skipped]".
//
// As root the run happens inside one private mount namespace, where the
// test users of test/helpers/users.ts are bind-mounted into /etc; the host
// is left untouched. Every process the run starts carries a marker in its
// environment, so whatever a crashed test file leaves behind is killed at
// the end. With CI=true a skipped or todo test fails the run: CI machines
// have everything, so a skip there means a test silently did not run.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const IN_NAMESPACE = 'NSMOUNTD_TEST_NAMESPACE';
const RUN_MARKER = 'NSMOUNTD_TEST_RUN';
const isRoot = process.getuid() === 0;
const args = process.argv.slice(2);

/**
 * One temp dir for the whole run (tests use os.tmpdir()), removed at the
 * end even when a test file crashed before its cleanup. Test users must be
 * able to reach sockets below it.
 */
function makeRunTmp() {
  const runTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-run-'));
  fs.chmodSync(runTmp, 0o755);
  return runTmp;
}

function removeRunTmp(runTmp) {
  try {
    fs.rmSync(runTmp, { recursive: true, force: true });
  } catch (err) {
    console.error(`cannot remove ${runTmp}: ${err.message}`);
  }
}

function reexecInNamespace() {
  const token = crypto.randomBytes(8).toString('hex');
  const runTmp = makeRunTmp();
  const env = { ...process.env, [IN_NAMESPACE]: '1', [RUN_MARKER]: token, TMPDIR: runTmp };
  const res = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, __filename, ...args], {
    stdio: 'inherit',
    env,
  });
  // The namespace is gone; anything still carrying the marker escaped stop().
  killLeftovers(token);
  // Mounts under it (the checkout's bind mount too) lived in the namespace,
  // which is gone with its processes: here it is a plain directory.
  removeRunTmp(runTmp);
  if (res.error) {
    console.error(`cannot enter a private mount namespace: ${res.error.message}`);
    process.exit(1);
  }
  process.exit(res.status ?? 1);
}

/**
 * Test users run the checkout's clients and daemon, but a checkout may sit
 * under a directory they cannot enter (a clone in /root, mode 0700). Inside
 * the run's mount namespace the checkout is bind-mounted below the run's
 * temp dir, which everyone can traverse, and the tests run from there.
 */
function reachableCheckout() {
  const st = fs.statSync(ROOT);
  if ((st.mode & 0o005) !== 0o005) {
    console.error(`${ROOT} is mode ${(st.mode & 0o777).toString(8)}: test users must be able to read and enter it (chmod o+rx)`);
    process.exit(1);
  }
  const target = path.join(os.tmpdir(), 'checkout');
  fs.mkdirSync(target);
  const res = spawnSync('mount', ['--bind', ROOT, target], { stdio: 'inherit' });
  if (res.status !== 0) {
    console.error(`cannot bind-mount ${ROOT} at ${target}`);
    process.exit(1);
  }
  return target;
}

/** Kills every process whose environment carries this run's marker; returns their descriptions. */
function killLeftovers(token) {
  const needle = Buffer.from(`${RUN_MARKER}=${token}\0`);
  const ancestors = new Set([process.pid, process.ppid]);
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (ancestors.has(pid)) continue;
    let environ;
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    if (environ.indexOf(needle) === -1) continue;
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {}
    try {
      process.kill(pid, 'SIGKILL');
      found.push(`${pid} ${cmdline}`);
    } catch {}
  }
  if (found.length) console.error(`killed ${found.length} process(es) left over by the tests:\n  ${found.join('\n  ')}`);
  return found;
}

function installUsers() {
  let users;
  try {
    users = require(path.join(ROOT, 'dist/test/helpers/users.js'));
  } catch (err) {
    console.error(`dist/test/helpers/users.js is missing; run "npm run build" first (${err.message})`);
    process.exit(1);
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-users-'));
  users.installTestUsers({ workDir });
  return workDir;
}

/** Streams ava's TAP output through and counts results. */
function runAva(root) {
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0 };
  const notRun = [];
  const failures = [];
  // Absolute paths into the checkout name the same files at its new place.
  const avaArgs = args.map((a) => (a.startsWith(ROOT + path.sep) ? path.join(root, a.slice(ROOT.length)) : a));
  const child = spawn(process.execPath, [path.join(root, 'node_modules/ava/entrypoints/cli.mjs'), '--tap', ...avaArgs], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let partial = '';
  const onLine = (line) => {
    process.stdout.write(line + '\n');
    const m = /^(not ok|ok)\s+\d+\s*-?\s*(.*)$/.exec(line);
    if (!m) return;
    const [, status, rest] = m;
    const directive = /\s#\s*(SKIP|TODO)\b/i.exec(rest);
    if (directive && directive[1].toUpperCase() === 'TODO') {
      counts.todo++;
      notRun.push(`todo: ${rest}`);
    } else if (directive) {
      counts.skipped++;
      notRun.push(`skipped: ${rest}`);
    } else if (status === 'ok') {
      counts.passed++;
    } else {
      counts.failed++;
      failures.push(rest);
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    lines.forEach(onLine);
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      if (partial) onLine(partial);
      resolve({ code: code ?? (signal ? 128 : 1), counts, notRun, failures });
    });
  });
}

async function main() {
  if (isRoot && !process.env[IN_NAMESPACE]) return reexecInNamespace();
  let usersDir;
  let root = ROOT;
  let runTmp;
  if (isRoot) {
    usersDir = installUsers();
    root = reachableCheckout();
  } else {
    console.error('not root: root-only tests will skip');
    runTmp = makeRunTmp();
    process.env.TMPDIR = runTmp;
  }

  const { code, counts, notRun, failures } = await runAva(root);
  if (usersDir) fs.rmSync(usersDir, { recursive: true, force: true });
  if (runTmp) removeRunTmp(runTmp);

  let exitCode = code;
  if (failures.length) console.log(`\nFailed:\n  ${failures.join('\n  ')}`);
  if (code !== 0 && counts.failed === 0) {
    // ava failed outside any test (a crashed file, a timeout, no files found).
    console.log(`\nava exited with status ${code} outside any counted test`);
    counts.failed++;
  }
  if (process.env.CI === 'true' && notRun.length) {
    console.log(`\nCI=true: every test must run, but these did not:\n  ${notRun.join('\n  ')}`);
    exitCode = exitCode || 1;
  }
  const notRunCount = counts.skipped + counts.todo;
  console.log(`\n${counts.passed} passed, ${counts.failed} failed${notRunCount ? `, ${notRunCount} skipped` : ''}`);
  process.exit(exitCode);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
