'use strict';
// npm's install step: builds the release library with cargo and copies it into lib/.
//
// npm links a folder outside the installing project without installing its dependencies, so a
// linked package whose koffi cannot be found installs its own (production) dependencies first.
//
// The sluice sources are found, in this order, at SLUICE_SOURCE_DIR, two levels above this
// package (bindings/node in a clone), or, when npm copied the package into node_modules, two
// levels above the folder named by the installing project's `file:` dependency on it.
// With SLUICE_LIBRARY set, nothing is built: the package loads that file.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { libraryFileName } = require('./src/library');

const packageDir = __dirname;

function isSluiceSource(dir) {
  try {
    return /^name\s*=\s*"sluice"/m.test(fs.readFileSync(path.join(dir, 'Cargo.toml'), 'utf8'));
  } catch {
    return false;
  }
}

// The folder npm was asked to install from, read from the installing project's package.json.
function dependencySpecDir() {
  const project = process.env.INIT_CWD;
  if (!project) return null;
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
    const spec = { ...manifest.devDependencies, ...manifest.dependencies }.sluice;
    if (typeof spec === 'string' && spec.startsWith('file:')) {
      return path.resolve(project, spec.slice('file:'.length));
    }
  } catch {
    // No readable manifest: nothing to learn from it.
  }
  return null;
}

function findSourceDir() {
  if (process.env.SLUICE_SOURCE_DIR) {
    const dir = path.resolve(process.env.SLUICE_SOURCE_DIR);
    if (!isSluiceSource(dir)) throw new Error(`SLUICE_SOURCE_DIR=${dir} holds no sluice Cargo.toml`);
    return dir;
  }
  const candidates = [path.resolve(packageDir, '..', '..')];
  const specDir = dependencySpecDir();
  if (specDir) candidates.push(path.resolve(specDir, '..', '..'));
  return candidates.find(isSluiceSource) ?? null;
}

function ensureDependencies() {
  try {
    require.resolve('koffi', { paths: [packageDir] });
    return;
  } catch {
    // Not installed: a linked folder.
  }
  const npm = process.env.npm_execpath;
  if (!npm) throw new Error('sluice: koffi is not installed; run `npm install` in ' + packageDir);
  // The settings npm passes to its scripts describe the installing project, not this folder.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_(config|package|lifecycle)_/.test(key)),
  );
  const lock = fs.existsSync(path.join(packageDir, 'package-lock.json'));
  console.log(`sluice: installing the dependencies of ${packageDir}`);
  execFileSync(
    process.execPath,
    [npm, lock ? 'ci' : 'install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'],
    { cwd: packageDir, env, stdio: 'inherit' },
  );
}

function main() {
  ensureDependencies();
  if (process.env.SLUICE_LIBRARY) {
    console.log(`sluice: SLUICE_LIBRARY is set (${process.env.SLUICE_LIBRARY}); not building`);
    return;
  }
  const sourceDir = findSourceDir();
  const installed = path.join(packageDir, 'lib', libraryFileName);
  if (!sourceDir) {
    if (fs.existsSync(installed)) return;
    throw new Error(
      'sluice: cannot find the sluice sources to build the library; set SLUICE_SOURCE_DIR to the ' +
        'repository root, or SLUICE_LIBRARY to a built libsluice',
    );
  }
  const cargo = process.env.CARGO || 'cargo';
  console.log(`sluice: building the release library in ${sourceDir}`);
  execFileSync(cargo, ['build', '--release'], { cwd: sourceDir, stdio: 'inherit' });
  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(sourceDir, process.env.CARGO_TARGET_DIR)
    : path.join(sourceDir, 'target');
  const built = path.join(targetDir, 'release', libraryFileName);
  // Copy beside, then rename: a process loading the old copy keeps a whole file.
  fs.mkdirSync(path.dirname(installed), { recursive: true });
  const partial = `${installed}.${process.pid}.tmp`;
  fs.copyFileSync(built, partial);
  fs.renameSync(partial, installed);
  console.log(`sluice: installed ${installed}`);
}

try {
  main();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
