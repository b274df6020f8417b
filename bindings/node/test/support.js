'use strict';
// What several test files share (not a test file itself: test.sh runs test/*.test.js).

const { load } = require('../src/library');

/**
 * The reason to skip the tests of `what` when the loaded library lacks one of the binding's
 * `functions` (names in src/library.js, resolved on first use); false when it has them all.
 */
function skipUnless(what, ...functions) {
  try {
    for (const name of functions) void load()[name];
    return false;
  } catch {
    return `${load().file} has no ${what}`;
  }
}

module.exports = { skipUnless };
