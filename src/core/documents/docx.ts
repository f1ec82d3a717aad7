/**
 * Word files (.docx) → plain text with mammoth, so the model reads them like text files (the
 * Messages API takes no Word documents, §13).
 */
import mammoth from 'mammoth';

export const DOCX_MEDIA_TYPE = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

/** A .docx is a ZIP archive: `PK\x03\x04`. */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** The document's text; throws when the bytes are not a readable Word file. */
export async function docxToText(bytes: Uint8Array): Promise<string> {
  const result = await mammoth.extractRawText({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
  return result.value.replace(/\n{3,}/g, '\n\n').trim();
}
