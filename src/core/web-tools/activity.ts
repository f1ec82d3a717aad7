import { hostOf } from './content.js';
import type { ToolActivity } from './types.js';

/**
 * What a running web tool is doing, in a few lowercase words ("searching the web", "reading
 * example.com"): each platform frames it its own way (a status line, "<app> is …").
 */
export function activityPhrase(activity: ToolActivity): string {
  return activity.kind === 'search' ? 'searching the web' : `reading ${hostOf(activity.url)}`;
}

/** The phrase as the start of a line: "Searching the web…". */
export function activityLine(activity: ToolActivity): string {
  const phrase = activityPhrase(activity);
  return `${phrase.charAt(0).toUpperCase()}${phrase.slice(1)}…`;
}
