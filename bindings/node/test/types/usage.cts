// Compiled by test/packaging.test.js: the same package from CommonJS.
import sluice = require('sluice');

const store: sluice.Store = new sluice.Store();
store.add({ key: 'k' });
const error: sluice.SluiceError | null = null;
void error;
void store.close();
