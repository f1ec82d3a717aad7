import type { ToolActivity } from './types.js';

/**
 * What a running web tool is doing, in a few lowercase words ("searching the web", "reading
 * example.com"): each platform frames it its own way (a status line, "<app> is …").
 */
export function activityPhrase(activity: ToolActivity): string {
  if (activity.kind === 'search') return 'searching the web';
  let host = activity.url;
  try {
    host = new URL(activity.url).host.replace(/^www\./, '');
  } catch {
    // Shown as given.
  }
  return `reading ${host}`;
}

/** The phrase as the start of a line: "Searching the web…". */
export function activityLine(activity: ToolActivity): string {
  const phrase = activityPhrase(activity);
  return `${phrase.charAt(0).toUpperCase()}${phrase.slice(1)}…`;
}
