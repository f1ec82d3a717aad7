/**
 * The only door to SQLite. Core code receives a `Store`; adapters never see one.
 */
import type { Database } from 'better-sqlite3';
import { AnswerRepo } from './answers.js';
import { ConversationRepo } from './conversations.js';
import { openDatabase } from './database.js';
import { ProcessedEventRepo } from './events.js';
import { InstructionRepo } from './instructions.js';
import { ReplyJobRepo } from './jobs.js';
import { MessageRepo } from './messages.js';
import { RetentionRepo } from './retention.js';
import { SettingsRepo } from './settings.js';
import { UsageRepo } from './usage.js';

export class Store {
  readonly conversations: ConversationRepo;
  readonly messages: MessageRepo;
  readonly instructions: InstructionRepo;
  readonly events: ProcessedEventRepo;
  readonly jobs: ReplyJobRepo;
  readonly usage: UsageRepo;
  readonly retention: RetentionRepo;
  readonly settings: SettingsRepo;
  readonly answers: AnswerRepo;
  private readonly pingStmt;

  constructor(private readonly db: Database) {
    this.conversations = new ConversationRepo(db);
    this.messages = new MessageRepo(db);
    this.instructions = new InstructionRepo(db);
    this.events = new ProcessedEventRepo(db);
    this.jobs = new ReplyJobRepo(db);
    this.usage = new UsageRepo(db);
    this.retention = new RetentionRepo(db);
    this.settings = new SettingsRepo(db);
    this.answers = new AnswerRepo(db);
    this.pingStmt = db.prepare('SELECT 1');
  }

  static open(path: string): Store {
    return new Store(openDatabase(path));
  }

  /** Runs `work` atomically; nested calls join the outer transaction. */
  transaction<T>(work: () => T): T {
    try {
      return this.db.transaction(work)();
    } catch (error) {
      // Rows cached inside the rolled-back transaction never existed.
      this.invalidateCaches();
      throw error;
    }
  }

  /**
   * Erases a conversation's messages but keeps the conversation, marked as already read, so the
   * next mention does not read the forgotten history back from the platform.
   */
  forgetConversation(id: number): void {
    this.transaction(() => {
      this.messages.deleteAll(id);
      this.conversations.setSystemPrompt(id, null, 0);
      this.conversations.markBackfilled(id);
    });
  }

  /** Deletes data older than the cutoffs (retention). */
  prune(cutoff: number, eventCutoff: number) {
    const result = this.retention.prune(cutoff, eventCutoff);
    this.invalidateCaches();
    return result;
  }

  private invalidateCaches(): void {
    this.messages.invalidate();
    this.conversations.invalidate();
    this.instructions.invalidate();
    this.settings.invalidate();
  }

  isHealthy(): boolean {
    try {
      this.pingStmt.get();
      return this.db.open;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export type { Conversation, StoredMessage, StoredAttachment, InstructionChange, SettingChange, ReplyJob, UsageRecord } from './types.js';
