// The store's public face: loops and services import from here, never from a backend's SQL.
export * from './store';
export { StoreError, type StoreErrorCode } from './errors';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
export { SqliteStore, standInHash, transferId, type SqliteStoreOptions } from './sqlite';
export { SCHEMA_VERSION } from './migrations';
