'use strict';
// Finds libsluice, loads it with koffi once per process, and declares the C functions.
// Pointers are BigInts (koffi 3); out-parameters are one-element arrays.

const fs = require('node:fs');
const path = require('node:path');

const libraryFileName =
  process.platform === 'win32'
    ? 'sluice.dll'
    : process.platform === 'darwin'
      ? 'libsluice.dylib'
      : 'libsluice.so';

const packageDir = path.resolve(__dirname, '..');

// SLUICE_LIBRARY overrides; then the copy `npm install` put in lib/; then, for a package used
// in place inside a clone (or linked to one), the clone's own release build.
function libraryPath() {
  const override = process.env.SLUICE_LIBRARY;
  if (override) {
    if (!fs.existsSync(override)) throw new Error(`SLUICE_LIBRARY=${override} does not exist`);
    return path.resolve(override);
  }
  const candidates = [
    path.join(packageDir, 'lib', libraryFileName),
    path.join(fs.realpathSync(packageDir), '..', '..', 'target', 'release', libraryFileName),
  ];
  const found = candidates.find((file) => fs.existsSync(file));
  if (found) return found;
  throw new Error(
    `sluice: ${libraryFileName} not found (looked at ${candidates.join(', ')}); run \`node install.js\` ` +
      'in the package folder (it builds the library with cargo), or set SLUICE_LIBRARY',
  );
}

let native = null;

/**
 * Declares functions newer than the first release of the library on `target`, each looked up on
 * first use, so that an older library still loads (and the call that needs one throws).
 */
function declareLater(target, lib, prototypes) {
  for (const [name, prototype] of Object.entries(prototypes)) {
    Object.defineProperty(target, name, {
      configurable: true,
      get() {
        const value = lib.func(prototype);
        Object.defineProperty(this, name, { value });
        return value;
      },
    });
  }
  return target;
}

function declare() {
  const koffi = require('koffi');
  const file = libraryPath();
  // Kept for the life of the process: library threads and pending async calls use it.
  const lib = koffi.load(file);
  koffi.opaque('sluice_store');
  koffi.opaque('sluice_batch');
  const logFn = koffi.proto('void sluice_log_fn(void *userdata, int level, const char *message)');
  // `data` is a plain pointer: koffi hands a callback's pointers over as BigInts to decode.
  const dispatchFn = koffi.proto(
    'void sluice_dispatch_fn(void *userdata, uint64_t exporter_id, const void *data, size_t len, ' +
      'size_t event_count, int result)',
  );
  const fn = (prototype) => lib.func(prototype);
  const functions = {
    koffi,
    lib,
    file,
    logFn,
    dispatchFn,
    version: fn('const char *sluice_version(void)'),
    statusName: fn('const char *sluice_status_name(int status)'),
    lastError: fn('const char *sluice_last_error(void)'),
    stringFree: fn('void sluice_string_free(void *s)'),
    setLogCallback: fn('int sluice_set_log_callback(sluice_log_fn *log_fn, void *userdata, int max_level)'),
    storeNew: fn('int sluice_store_new(const char *config_json, _Out_ sluice_store **out_store)'),
    // One symbol, two views: a JS string is encoded by koffi, a Buffer is passed as is.
    storeAddString: fn('int sluice_store_add(sluice_store *store, const char *event_json, size_t len)'),
    storeAddBytes: lib.func('sluice_store_add', 'int', ['sluice_store *', 'const uint8_t *', 'size_t']),
    storeFlush: fn('int sluice_store_flush(sluice_store *store, uint32_t timeout_ms)'),
    storeClose: fn('int sluice_store_close(sluice_store *store, uint32_t timeout_ms)'),
    storeFree: fn('void sluice_store_free(sluice_store *store)'),
    storeStats: fn('int sluice_store_stats(sluice_store *store, _Out_ void **out_json)'),
    addPullExporter: fn(
      'int sluice_store_add_pull_exporter(sluice_store *store, const char *options_json, _Out_ uint64_t *out_id)',
    ),
    poll: fn(
      'int sluice_store_poll(sluice_store *store, uint64_t exporter_id, uint32_t timeout_ms, _Out_ sluice_batch **out_batch)',
    ),
    batchData: fn('void *sluice_batch_data(sluice_batch *batch, _Out_ size_t *out_len)'),
    batchEventCount: fn('size_t sluice_batch_event_count(sluice_batch *batch)'),
    batchComplete: fn('int sluice_batch_complete(sluice_batch *batch, bool exported)'),
    removeExporter: fn(
      'int sluice_store_remove_exporter(sluice_store *store, uint64_t exporter_id, uint32_t timeout_ms)',
    ),
  };
  return declareLater(functions, lib, {
    addExporter:
      'int sluice_store_add_exporter(sluice_store *store, const char *config_json, _Out_ uint64_t *out_id)',
    // release_fn is declared as a plain pointer: the binding passes NULL (see src/dispatch.js).
    addListener:
      'int sluice_store_add_listener(sluice_store *store, sluice_dispatch_fn *dispatch_fn, void *userdata, ' +
      'void *release_fn, _Out_ uint64_t *out_id)',
    removeListener: 'int sluice_store_remove_listener(sluice_store *store, uint64_t listener_id)',
  });
}

/** The loaded library (loaded on first use). */
function load() {
  native ??= declare();
  return native;
}

module.exports = { load, libraryFileName };
