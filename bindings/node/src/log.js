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
/** The most detailed level the logger takes (index in LEVELS). */
let maxLevel = LEVELS.indexOf('info');
let trampoline = null;

// Where the library prints without a logger: SLUICE_LOG, read once as the library does.
const envLevel = LEVELS.indexOf((process.env.SLUICE_LOG ?? '').trim().toLowerCase());

function relay(_userdata, level, message) {
  try {
    logger?.(LEVELS[level - 1] ?? 'error', message);
  } catch {
    // A logger that throws must not unwind into the library.
  }
}

/**
 * Logs a line of the binding's own (a listener that threw, say) the way the library logs its
 * lines: to the logger when one is set and takes `level`, else to standard error when SLUICE_LOG
 * asks for it, else nowhere.
 */
function log(level, message) {
  const index = LEVELS.indexOf(level);
  if (logger) {
    if (index <= maxLevel) relay(null, index + 1, message);
  } else if (envLevel >= 0 && index <= envLevel) {
    process.stderr.write(`sluice ${level}: ${message}\n`);
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
 * Stops the lines for good, from the 'exit' handler, where the event loop no longer runs: a line
 * a thread hands over now waits forever. Removing the C callback waits for every call in
 * progress, which never ends for a library thread already waiting with a line, so it is removed
 * only when `removeCallback` says a thread-pool thread may still log (Node joins those threads
 * on the way out); otherwise the callback stays and drops what it gets.
 */
function detachLogger({ removeCallback }) {
  logger = null;
  if (trampoline && removeCallback) disable();
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
  maxLevel = LEVELS.indexOf(level);
  check(native.setLogCallback(trampoline, null, LEVELS.indexOf(level) + 1));
}

module.exports = { setLogger, detachLogger, log };
