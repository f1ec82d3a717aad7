/**
 * What the parts of the chat service share: the store, the clock, the registered platforms, the
 * answer queue and the jobs this process owns. `ChatService` builds it once and hands it to each part.
 */
import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { ChatServiceOptions } from '../chat-service.js';
import type { KeyedQueue } from '../keyed-queue.js';
import type { Metrics } from '../metrics.js';
import type { SettingsService } from '../settings/service.js';
import type { Platform, PlatformServices } from '../types.js';

export interface ChatContext {
  readonly options: ChatServiceOptions;
  readonly store: Store;
  readonly logger: Logger;
  readonly now: () => number;
  readonly platforms: ReadonlyMap<Platform, PlatformServices>;
  /** Jobs this process has taken on, queued or answering: a resume must not take them a second time. */
  readonly ownJobs: Set<number>;
  /** Answers, serialized per thread; how many model calls run at once is the model client's gate. */
  readonly replies: KeyedQueue;
  readonly metrics: Metrics;
  /** `/settings` and the effective settings of a channel: `settings.effective(platform, workspaceId, channelId)`. */
  readonly settings: SettingsService;
}

/** A part of the chat service: the shared context as fields, so its methods read like the service's own. */
export abstract class ChatPart {
  protected readonly options: ChatServiceOptions;
  protected readonly store: Store;
  protected readonly logger: Logger;
  protected readonly now: () => number;
  protected readonly platforms: ReadonlyMap<Platform, PlatformServices>;
  protected readonly ownJobs: Set<number>;
  protected readonly replies: KeyedQueue;
  protected readonly metrics: Metrics;
  protected readonly settings: SettingsService;

  constructor(context: ChatContext) {
    this.options = context.options;
    this.store = context.store;
    this.logger = context.logger;
    this.now = context.now;
    this.platforms = context.platforms;
    this.ownJobs = context.ownJobs;
    this.replies = context.replies;
    this.metrics = context.metrics;
    this.settings = context.settings;
  }
}
