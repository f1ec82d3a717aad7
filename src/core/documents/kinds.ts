/**
 * Office and other file types the model cannot read: a note that names the type, so the user
 * (through the model) learns what to send instead.
 */
import { extension } from '../attachments.js';
const NAMED_TYPES: ReadonlyArray<{ readonly extensions: readonly string[]; readonly mediaTypes: readonly string[]; readonly note: string }> = [
  {
    extensions: ['xlsx', 'xls', 'ods', 'numbers'],
    mediaTypes: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'application/vnd.ms-excel', 'application/vnd.oasis.opendocument.spreadsheet'],
    note: 'spreadsheets are not read (a CSV export or a PDF of the sheet would be)',
  },
  {
    extensions: ['pptx', 'ppt', 'odp', 'key'],
    mediaTypes: ['application/vnd.openxmlformats-officedocument.presentationml.presentation', 'application/vnd.ms-powerpoint', 'application/vnd.oasis.opendocument.presentation'],
    note: 'slide decks are not read (a PDF export would be)',
  },
  {
    extensions: ['doc', 'odt', 'rtf', 'pages'],
    mediaTypes: ['application/msword', 'application/vnd.oasis.opendocument.text', 'application/rtf'],
    note: 'only Word files in the .docx format are read (a .docx or PDF export would be)',
  },
];

export function unreadableTypeNote(name: string, mediaType: string | null): string {
  const ext = extension(name);
  const known = NAMED_TYPES.find((entry) => entry.extensions.includes(ext) || (mediaType !== null && entry.mediaTypes.includes(mediaType)));
  return known?.note ?? 'this file type cannot be shown to the model';
}
