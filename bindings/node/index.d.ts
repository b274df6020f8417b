/// <reference types="node" />
// Types of the sluice Node binding. Same objects from CommonJS (require) and ESM (import).

/** A status name of the C API, e.g. 'SLUICE_ERR_FULL'. */
export type SluiceErrorCode =
  | 'SLUICE_ERR_NULL_ARGUMENT'
  | 'SLUICE_ERR_INVALID_ARGUMENT'
  | 'SLUICE_ERR_INVALID_EVENT'
  | 'SLUICE_ERR_FULL'
  | 'SLUICE_ERR_CLOSED'
  | 'SLUICE_ERR_TIMEOUT'
  | 'SLUICE_ERR_EXPORT'
  | 'SLUICE_ERR_NOT_FOUND'
  | 'SLUICE_ERR_IO'
  | 'SLUICE_ERR_PANIC'
  | 'SLUICE_UNKNOWN';

/** A call into the library failed. Bad arguments throw TypeError or RangeError instead. */
export declare class SluiceError extends Error {
  readonly name: 'SluiceError';
  /** The status name, e.g. 'SLUICE_ERR_FULL'. */
  readonly code: SluiceErrorCode;
  /** The status number of the C API (SLUICE_ERR_FULL is 4). */
  readonly status: number;
}

export interface StoreOptions {
  /** Max buffered events, shared by all exporters (default 100000). */
  capacity?: number;
  /** Max buffered bytes (default 64 MiB). */
  maxBytes?: number;
  /** What add() does when the buffer is full (default 'drop_oldest'). */
  overflow?: 'drop_oldest' | 'drop_newest' | 'block';
  /** How long add() waits for room with overflow 'block' (default 100 ms). */
  blockTimeoutMs?: number;
  /** Largest accepted event in bytes (default 1 MiB). */
  maxEventBytes?: number;
}

/** Batching and retry options every exporter shares. */
export interface BatchingOptions {
  /** Shown in stats and log lines. */
  name?: string;
  /** Events per export call (default 1000). */
  maxBatchSize?: number;
  /** Pending events that trigger an export before the interval (default maxBatchSize). */
  flushThreshold?: number;
  /** Longest time an event waits before it is exported (default 5000 ms). */
  flushIntervalMs?: number;
  /** false exports each event as soon as possible, one per call (default true). */
  bulk?: boolean;
  /** First delay after a failed export (default 100 ms); doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  /** Longest delay between failed attempts (default 30000 ms). */
  maxBackoffMs?: number;
}

export interface ExporterOptions extends BatchingOptions {
  /** How `batch.text` is laid out: one JSON array ('json', default) or JSON lines ('jsonl'). */
  format?: 'json' | 'jsonl';
}

export interface FileExporterOptions extends BatchingOptions {
  /** Directory of the files (created 0755 when missing). */
  dir: string;
  /** File name template (`{{ .Hostname}}`, `{{ .Timestamp}}`, `{{ .Format}}`). */
  filename?: string;
  /** 'json' (JSON lines, default), 'csv' or 'parquet'. */
  format?: 'json' | 'csv' | 'parquet';
  /** One rendering per event, for format 'csv' (Go-template fields such as `{{ .UserKey}}`). */
  csvTemplate?: string;
  /** For format 'parquet' (default 'snappy'). */
  parquetCompression?: 'snappy' | 'gzip' | 'zstd' | 'uncompressed';
}

export interface LogExporterOptions extends BatchingOptions {
  /** One line per event (Go-template fields such as `{{ .Key}}`, `{{ .FormattedDate}}`). */
  template?: string;
  /** 'log' (default): the logger set with setLogger, at 'info'; 'stderr': standard error. */
  target?: 'log' | 'stderr';
}

export interface WebhookExporterOptions extends BatchingOptions {
  /** Signs each body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body as sent>`. */
  secret?: string;
  /**
   * Extra request headers. Not Content-Type, Content-Encoding, Content-Length,
   * Transfer-Encoding, Host nor the signature, which the exporter sets.
   */
  headers?: Record<string, string>;
  /** Merged into the document's `meta`, after `hostname` (which it may replace). */
  meta?: JsonObject;
  /** The most one request may take, connecting and answer included (default 10000 ms). */
  timeoutMs?: number;
  /** Compresses the body (`Content-Encoding: gzip`; the signature covers the compressed bytes). */
  gzip?: boolean;
  /** PEM file of root certificates trusted besides Mozilla's, for an https `url`. */
  caFile?: string;
  /** A batch whose document would be larger is sent as several POSTs, in order. */
  maxBodyBytes?: number;
}

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** What an exporter function gets beside the parsed events. */
export interface Batch {
  readonly exporterId: number;
  readonly eventCount: number;
  readonly format: 'json' | 'jsonl';
  /** The batch as the library laid it out (a JSON array, or one JSON object per line). */
  readonly text: string;
  /** The same bytes as `text`. */
  readonly data: Buffer;
}

/**
 * Receives each batch. May be async. A throw, a rejected Promise or `false` marks the batch
 * failed: the same events are offered again, in order, after backoff.
 */
export type Exporter = (events: ExportedEvent[], batch: Batch) => unknown;

/**
 * One export attempt of any exporter, as dispatch listeners see it: the batch as the exporter got
 * it (JSON lines for the library's own exporters), and its outcome.
 */
export interface Dispatch extends Batch {
  /** true: exported; false: failed, and the same events will be offered again after backoff. */
  readonly ok: boolean;
  /** The batch's events, parsed (one array shared by every listener of the attempt). */
  readonly events: ExportedEvent[];
}

/**
 * Called after every export attempt, on the main thread. What it returns is ignored; a throw or
 * a rejected Promise is logged and changes nothing.
 */
export type DispatchListener = (dispatch: Dispatch) => unknown;

export interface FeatureFields {
  userKey: string;
  contextKind?: string;
  /** Unix seconds; now when absent. */
  creationDate?: number;
  variation?: string;
  value?: Json;
  default?: boolean;
  version?: string;
  source?: string;
  metadata?: JsonObject;
}

/** An event as exporters receive it: the fields added, plus `kind` and `creationDate`. */
export interface ExportedEvent extends Partial<FeatureFields> {
  kind: string;
  creationDate: number;
  key?: string;
  evaluationContext?: JsonObject;
  trackingEventDetails?: JsonObject;
  [field: string]: Json | undefined;
}

export interface TrackFields {
  userKey: string;
  contextKind?: string;
  /** Unix seconds; now when absent. */
  creationDate?: number;
  evaluationContext?: JsonObject;
  /** Sent as `trackingEventDetails`. */
  details?: JsonObject;
  metadata?: JsonObject;
}

export interface ExporterStats {
  id: number;
  name: string;
  /** 'pull' for addExporter; 'file', 'log' or 'webhook' for the library's own exporters. */
  type: string;
  /** Events accepted since the exporter was added: exported + dropped + pending. */
  accepted: number;
  exported: number;
  pending: number;
  dropped: number;
  droppedReasons: { overflow: number; shutdown: number };
  inFlight: number;
  failedAttempts: number;
  batches: number;
  lastError: string | null;
}

export interface Stats {
  accepted: number;
  rejected: number;
  invalid: number;
  buffered: number;
  bufferedBytes: number;
  capacity: number;
  maxBytes: number;
  closed: boolean;
  exporters: ExporterStats[];
}

export declare class Store {
  /** @throws TypeError, RangeError for bad options; SluiceError for what the library refuses. */
  constructor(options?: StoreOptions);

  /**
   * Accepts one event: an object (sent as JSON), a JSON string, or its UTF-8 bytes.
   * Never waits for an exporter.
   * @throws SluiceError SLUICE_ERR_INVALID_EVENT, SLUICE_ERR_FULL, SLUICE_ERR_CLOSED
   */
  add(event: object | string | Uint8Array): void;

  /** Adds a feature (flag evaluation) event. */
  feature(key: string, fields: FeatureFields): void;

  /** Adds a tracking event; `fields.details` becomes `trackingEventDetails`. */
  track(key: string, fields: TrackFields): void;

  /** Adds an exporter that sees every event added from now on. Returns its id. */
  addExporter(exporter: Exporter, options?: ExporterOptions): number;

  /** Adds the library's file exporter (JSON lines, CSV or Parquet files). Returns its id. */
  addFileExporter(options: FileExporterOptions): number;

  /** Adds the library's log exporter (one line per event). Returns its id. */
  addLogExporter(options?: LogExporterOptions): number;

  /**
   * Adds the library's webhook exporter: each batch POSTed to `url` (http or https) as
   * `{"meta": {"hostname": ..., ...meta}, "events": [...]}`. Any 2xx is success; anything else,
   * a connection error or a timeout is retried after backoff (and not before `Retry-After`).
   * Returns its id.
   * @throws TypeError, RangeError for bad options; SluiceError SLUICE_ERR_INVALID_ARGUMENT for
   * a URL, header or certificate file the library refuses, SLUICE_ERR_IO for an unreadable caFile.
   */
  addWebhookExporter(url: string | URL, options?: WebhookExporterOptions): number;

  /**
   * Calls `listener` after every export attempt of every exporter (retries included), on the
   * main thread. Returns its id.
   * @throws SluiceError SLUICE_ERR_CLOSED once close() was called
   */
  onDispatch(listener: DispatchListener): number;

  /**
   * Stops calls to listener `id` at once.
   * @throws SluiceError SLUICE_ERR_NOT_FOUND for an unknown id
   */
  removeListener(id: number): void;

  /**
   * Flushes exporter `id` for up to `timeoutMs` (default 5000), then stops and releases it.
   * Rejects with SLUICE_ERR_NOT_FOUND for an unknown id, SLUICE_ERR_TIMEOUT when some of its
   * events were not exported (it is removed all the same).
   */
  removeExporter(id: number, timeoutMs?: number): Promise<void>;

  /**
   * Resolves once every event added before the call is exported or dropped by policy.
   * Rejects with SLUICE_ERR_TIMEOUT, SLUICE_ERR_EXPORT or SLUICE_ERR_CLOSED.
   */
  flush(timeoutMs?: number): Promise<void>;

  /**
   * Stops intake, flushes for up to `timeoutMs` (default 5000) and stops every exporter.
   * The store is closed whatever the outcome; SLUICE_ERR_TIMEOUT says events were dropped.
   * Closing again resolves at once.
   */
  close(timeoutMs?: number): Promise<void>;

  /** A consistent snapshot of the counters. Works after close. */
  stats(): Stats;

  /** True once close() has finished. */
  readonly closed: boolean;

  [Symbol.asyncDispose](): Promise<void>;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Anything with the four level methods, such as `console`. */
export interface LevelLogger {
  error(message: string): unknown;
  warn(message: string): unknown;
  info(message: string): unknown;
  debug(message: string): unknown;
}

/**
 * Sends the library's log lines up to `options.level` (default 'info') to `logger`, for every
 * store of the process; `null` stops them. Without a logger the library prints nothing unless
 * the SLUICE_LOG environment variable asks for standard error.
 */
export declare function setLogger(
  logger: ((level: LogLevel, message: string) => unknown) | LevelLogger | null,
  options?: { level?: LogLevel },
): void;

/** The version of the loaded library, e.g. "0.1.0". */
export declare const version: string;
/** The path of the loaded library. */
export declare const libraryPath: string;
/** The timeout of flush, close and removeExporter when none is given (5000 ms). */
export declare const DEFAULT_TIMEOUT_MS: number;
