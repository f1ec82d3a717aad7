/** A PDF as the request carries it: a `document` block in the user turn that posted it (§13). */
export type DocumentSource =
  | { readonly type: 'url'; readonly url: string }
  | { readonly type: 'base64'; readonly media_type: 'application/pdf'; readonly data: string }
  | { readonly type: 'file'; readonly file_id: string };

export interface DocumentPart {
  readonly name: string;
  readonly source: DocumentSource;
  /** Pages, when the bytes were read; null when unknown (an estimate is used). */
  readonly pages: number | null;
}

export type DocumentBlock = { type: 'document'; source: DocumentSource; title: string; cache_control?: { readonly type: 'ephemeral' } };

export function documentBlock(part: DocumentPart): DocumentBlock {
  return { type: 'document', source: part.source, title: part.name };
}
