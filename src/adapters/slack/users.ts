/**
 * Display names by user id, from `users.info`, cached so a busy thread costs one lookup per
 * person. The pending lookup itself is cached: a backfill translates a whole page at once, and
 * twenty messages by one author must not become twenty calls against a rate-limited method.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';

const TTL_MS = 10 * 60 * 1000;

export class SlackUserNames {
  private readonly cache = new Map<string, { name: Promise<string>; at: number }>();

  constructor(
    private readonly client: webApi.WebClient,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  name(userId: string): Promise<string> {
    const hit = this.cache.get(userId);
    if (hit !== undefined && this.now() - hit.at < TTL_MS) return hit.name;
    const name = this.lookUp(userId);
    this.cache.set(userId, { name, at: this.now() });
    return name;
  }

  private async lookUp(userId: string): Promise<string> {
    try {
      const info = await this.client.users.info({ user: userId });
      const user = info.user as { name?: string; real_name?: string; profile?: { display_name?: string; real_name?: string } } | undefined;
      return user?.profile?.display_name || user?.profile?.real_name || user?.real_name || user?.name || userId;
    } catch (error) {
      // The id stands in for the name until the entry expires; a failing lookup is not retried per message.
      this.logger.debug({ err: error, user: userId }, 'users.info failed; using the id as the name');
      return userId;
    }
  }
}
