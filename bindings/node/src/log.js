'use strict';
// Routes the library's log lines to a JS logger. The C log callback is process-wide and library
// threads call it, so it is installed only while a logger is set. One koffi callback is
// registered for the life of the process (never unregistered: a library thread may still hold
// it); koffi runs it on the main thread, queueing calls made from other threads until the event
// loop gets to them, while the calling library thread waits. Without a logger nothing is
// installed and the library prints to standard error only if SLUICE_LOG asks it to.

const { load } = require('./library');
const { check } = require('./errors');
const { describe, isPlainObject } = require('./options');

const LEVELS = ['error', 'warn', 'info', 'debug'];

let logger = null;
let trampoline = null;

function relay(_userdata, level, message) {
  try {
    logger?.(LEVELS[level - 1] ?? 'error', message);
  } catch {
    // A logger that throws must not unwind into the library.
  }
}

function toFunction(target) {
  if (typeof target === 'function') return target;
  if (typeof target === 'object' && target !== null && LEVELS.every((l) => typeof target[l] === 'function')) {
    return (level, message) => target[level](message);
  }
  throw new TypeError(
    'logger must be a function (level, message), an object with error/warn/info/debug methods, ' +
      `or null, not ${describe(target)}`,
  );
}

function disable() {
  load().setLogCallback(null, null, 1);
}

/**
 * Removes the log callback for good, from the 'exit' handler: the event loop no longer runs,
 * so a line handed to it would wait forever. Says whether a logger was set.
 */
function detachLogger() {
  const wasSet = logger !== null;
  logger = null;
  if (trampoline) disable();
  return wasSet;
}

/**
 * Sends the library's log lines up to `options.level` ('info' by default) to `target`, or stops
 * sending them when `target` is null.
 */
function setLogger(target, options = {}) {
  if (!isPlainObject(options)) throw new TypeError(`options must be an object, not ${describe(options)}`);
  const level = options.level ?? 'info';
  if (typeof level !== 'string')
    throw new TypeError(`options.level must be a string, not ${describe(level)}`);
  if (!LEVELS.includes(level))
    throw new RangeError(`options.level must be one of ${LEVELS.join(', ')}, not '${level}'`);
  if (target === null || target === undefined) {
    logger = null;
    if (trampoline) disable();
    return;
  }
  const next = toFunction(target);
  const native = load();
  if (!trampoline) {
    trampoline = native.koffi.register(relay, native.koffi.pointer(native.logFn));
  }
  logger = next;
  check(native.setLogCallback(trampoline, null, LEVELS.indexOf(level) + 1));
}

module.exports = { setLogger, detachLogger };
