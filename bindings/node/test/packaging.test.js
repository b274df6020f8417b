'use strict';
// The package as users get it: `npm install <path to bindings/node>` from another folder, linked
// (npm's default for a folder) and copied (--install-links, where the install script must find
// the sources from the installing project's `file:` dependency), then used from CommonJS and
// ESM; and its TypeScript types, compiled in strict mode.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const packageDir = path.resolve(__dirname, '..');

function run(command, args, cwd) {
  return execFileSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: 300000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const USE_CJS = `
  const { Store, libraryPath } = require('sluice');
  const store = new Store();
  const seen = [];
  store.addExporter((events) => { seen.push(...events.map((e) => e.key)); });
  store.feature('from-cjs', { userKey: 'u' });
  store.close(5000).then(() => console.log(JSON.stringify({ seen, libraryPath })));
`;

const USE_ESM = `
  import sluice, { Store } from 'sluice';
  const store = new Store();
  const seen = [];
  store.addExporter((events) => { seen.push(...events.map((e) => e.key)); });
  store.track('from-esm', { userKey: 'u' });
  await store.close(5000);
  console.log(JSON.stringify({ seen, same: sluice.Store === Store, libraryPath: sluice.libraryPath }));
`;

function installInto(t, extraArgs) {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-install-'));
  t.after(() => fs.rmSync(project, { recursive: true, force: true }));
  fs.writeFileSync(path.join(project, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...extraArgs, packageDir], project);
  const cjs = JSON.parse(run(process.execPath, ['-e', USE_CJS], project));
  const esm = JSON.parse(run(process.execPath, ['--input-type=module', '-e', USE_ESM], project));
  assert.deepEqual(cjs.seen, ['from-cjs']);
  assert.deepEqual(esm.seen, ['from-esm']);
  assert.equal(esm.same, true);
  return { project, libraryPath: cjs.libraryPath };
}

test('npm install of the folder (linked) works from CommonJS and ESM', (t) => {
  const { project, libraryPath } = installInto(t, ['--install-links=false']);
  assert.equal(fs.realpathSync(path.join(project, 'node_modules', 'sluice')), fs.realpathSync(packageDir));
  assert.equal(
    fs.realpathSync(libraryPath),
    fs.realpathSync(path.join(packageDir, 'lib', path.basename(libraryPath))),
  );
});

test('npm install --install-links (copied) builds from the original sources into its own lib/', (t) => {
  const { project, libraryPath } = installInto(t, ['--install-links']);
  const installed = path.join(project, 'node_modules', 'sluice');
  assert.equal(fs.lstatSync(installed).isSymbolicLink(), false);
  assert.equal(libraryPath, path.join(installed, 'lib', path.basename(libraryPath)));
});

test('index.d.ts types every method and option, from CommonJS and ESM (tsc --strict)', () => {
  const tsc = path.join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '-p', path.join(__dirname, 'types')], packageDir);
});
