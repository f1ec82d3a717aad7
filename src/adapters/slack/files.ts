/**
 * Slack files are private: `url_private` needs the bot token. The token goes only to Slack's
 * own hosts and the configured API host, never to a host a redirect points elsewhere.
 */
import type { PlatformServices } from '../../core/types.js';
import { authorizedFetch } from '../../http/authorized-fetch.js';

export function slackTokenHosts(apiUrl: string | undefined): (host: string) => boolean {
  const apiHost = apiUrl === undefined ? undefined : new URL(apiUrl).hostname;
  return (host) => host === apiHost || host === 'slack.com' || host.endsWith('.slack.com') || host.endsWith('.slack-edge.com');
}

export function slackFileServices(botToken: string, apiUrl: string | undefined): Omit<PlatformServices, 'replySink'> {
  const allowHost = slackTokenHosts(apiUrl);
  return {
    urlsArePublic: false,
    async download(url, maxBytes) {
      const { bytes, contentType } = await authorizedFetch(url, { token: botToken, allowHost, maxBytes });
      return { bytes, contentType };
    },
  };
}
