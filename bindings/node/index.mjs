// The ES module entry: the same objects as the CommonJS one.
import sluice from './index.js';

export const { Store, SluiceError, setLogger, version, libraryPath, DEFAULT_TIMEOUT_MS } = sluice;
export default sluice;
