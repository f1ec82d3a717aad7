/** The Slack app manifest asks for what the adapter uses: the assistant panel, its events, interactivity. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const manifest = JSON.parse(readFileSync(new URL('../../slack/manifest.json', import.meta.url), 'utf8')) as {
  features: { assistant_view?: { assistant_description?: string; suggested_prompts?: Array<{ title: string; message: string }> } };
  oauth_config: { scopes: { bot: string[] } };
  settings: { event_subscriptions: { bot_events: string[] }; interactivity: { is_enabled: boolean } };
};

describe('Slack manifest', () => {
  it('enables the assistant panel with its events, and interactivity for the answer buttons', () => {
    expect(manifest.features.assistant_view?.assistant_description).toBeTruthy();
    expect(manifest.features.assistant_view?.suggested_prompts?.length).toBeLessThanOrEqual(4);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(expect.arrayContaining(['assistant_thread_started', 'assistant_thread_context_changed', 'message.im']));
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['assistant:write', 'chat:write', 'channels:read', 'im:history']));
  });
});
