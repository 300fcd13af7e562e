// Store errors carry a stable `code` that callers switch on (the HTTP layer maps QUEUE_FULL
// to 503, STALE_FENCE aborts a turn that lost its claim).
export type StoreErrorCode =
  /** queue_limit tasks are queued already. */
  | 'QUEUE_FULL'
  /** An idempotency key sent again with another request (requestHash). */
  | 'IDEMPOTENCY_MISMATCH'
  /** A write carried a fence that is no longer the current claim. */
  | 'STALE_FENCE'
  /** A request the store cannot accept (bad priority, turn without session, …). */
  | 'INVALID_ARGUMENT'
  /** The store stayed locked by other processes past its busy timeout (SQLite). */
  | 'STORE_BUSY'
  /** The store cannot be reached right now (Redis down or failing over); retry later. */
  | 'UNAVAILABLE'
  | 'STORE_CLOSED'
  /** The file could not be opened, or is not a database (the message names it and why). */
  | 'STORE_OPEN_FAILED'
  /** The integrity check at open found damage. */
  | 'STORE_DAMAGED'
  /** The database file is missing but its write-ahead log is there. */
  | 'STORE_WAL_ORPHANED'
  /** SQLite found the file damaged, or the disk failed, while serving. */
  | 'STORE_FAILED'
  /** The file was written by a newer drover (schema version above ours). */
  | 'SCHEMA_TOO_NEW'
  | 'UNKNOWN_BACKEND';

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}
