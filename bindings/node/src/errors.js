'use strict';
// The binding's errors: SluiceError for a status the library returned, TypeError and
// RangeError for arguments refused before any call into the library.

const { load } = require('./library');

/** A call into libsluice failed: `code` is the status name, e.g. 'SLUICE_ERR_FULL'. */
class SluiceError extends Error {
  constructor(code, message, status) {
    super(message);
    this.name = 'SluiceError';
    this.code = code;
    this.status = status;
  }
}

const OK = 0;
const status = Object.freeze({
  OK,
  INVALID_ARGUMENT: 2,
  CLOSED: 5,
  TIMEOUT: 6,
  EXPORT: 7,
  NOT_FOUND: 8,
});

function statusName(code) {
  return load().statusName(code);
}

/** The error of a failed call made on this (the main) thread: the library's own message. */
function lastError(code) {
  return new SluiceError(statusName(code), load().lastError() || statusName(code), code);
}

/** Throws the error of a failed call made on this thread. */
function check(code) {
  if (code !== OK) throw lastError(code);
}

/**
 * An error the caller describes in `message`: a failed asynchronous call (the library keeps its
 * message in the worker thread that made the call), or a refusal the binding decides itself.
 */
function asyncError(code, message) {
  return new SluiceError(statusName(code), `${message} (${statusName(code)})`, code);
}

module.exports = { SluiceError, status, check, lastError, asyncError };
