/** Web-tool shapes adapters see (through core/types.ts): no SDK types here. */

/** What a running server tool is doing, for the progress shown to the user. */
export type ToolActivity = { readonly kind: 'search'; readonly query: string } | { readonly kind: 'fetch'; readonly url: string };

/** One entry of the numbered source list shown after an answer. */
export interface Source {
  readonly url: string;
  readonly title: string;
}
