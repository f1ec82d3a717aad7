/** Display names by user id, from `users.info`, cached so a busy thread costs one lookup per person. */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';

const TTL_MS = 10 * 60 * 1000;

export class SlackUserNames {
  private readonly cache = new Map<string, { name: string; at: number }>();

  constructor(
    private readonly client: webApi.WebClient,
    private readonly logger: Logger,
  ) {}

  async name(userId: string): Promise<string> {
    const hit = this.cache.get(userId);
    if (hit !== undefined && Date.now() - hit.at < TTL_MS) return hit.name;
    let name = userId;
    try {
      const info = await this.client.users.info({ user: userId });
      const user = info.user as { name?: string; real_name?: string; profile?: { display_name?: string; real_name?: string } } | undefined;
      name = user?.profile?.display_name || user?.profile?.real_name || user?.real_name || user?.name || userId;
    } catch (error) {
      this.logger.debug({ err: error, user: userId }, 'users.info failed; using the id as the name');
    }
    this.cache.set(userId, { name, at: Date.now() });
    return name;
  }
}
