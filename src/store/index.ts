/**
 * The only door to the database. Core code receives a `Store` (SQLite or PostgreSQL, the same
 * asynchronous interface: see store.ts); adapters never see one.
 */
export { Store, type StoreLocation, type PruneResult } from './store.js';
export type { Conversation, StoredMessage, StoredAttachment, InstructionChange, SettingChange, ReplyJob, UsageRecord } from './types.js';
export type { LockHolders, ResourceLocks } from './locks.js';
