'use strict';
// sluice for Node.js: a thin koffi binding of libsluice (see README.md).

const { load } = require('./src/library');
const { Store, DEFAULT_TIMEOUT_MS } = require('./src/store');
const { SluiceError } = require('./src/errors');
const { setLogger } = require('./src/log');

module.exports = {
  Store,
  SluiceError,
  setLogger,
  /** The version of the loaded library, e.g. "0.1.0". */
  version: load().version(),
  /** Where the loaded library is. */
  libraryPath: load().file,
  DEFAULT_TIMEOUT_MS,
};
