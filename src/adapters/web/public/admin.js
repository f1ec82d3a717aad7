// The admin panel: a form per command, built from COMMANDS. The server runs the same command
// objects as the platforms' slash commands (src/adapters/web/commands.ts); a new command is one
// entry here and one there. Field values: an array is a select, 'textarea' / 'text' an input.
import { runAdmin } from './api.js';
import { renderMarkdown } from './render.js';

export const COMMANDS = {
  instructions: {
    label: '/instructions',
    fields: { action: ['show', 'set', 'clear', 'history'], scope: ['workspace', 'channel'], text: 'textarea' },
  },
  settings: {
    label: '/settings',
    fields: { action: ['show', 'set', 'clear', 'history'], scope: ['workspace', 'channel'], key: ['', 'model', 'web_search', 'web_fetch', 'answers'], value: 'text' },
  },
  usage: { label: '/usage', fields: { days: ['7', '1', '30'] } },
};

export function setupAdmin({ dialog, openButton, closeButton, form, fieldsBox, output, currentUser }) {
  const commandSelect = document.createElement('select');
  commandSelect.id = 'admin-command';
  commandSelect.setAttribute('aria-label', 'Command');
  for (const [name, spec] of Object.entries(COMMANDS)) commandSelect.append(new Option(spec.label, name));
  const controls = document.createElement('div');
  fieldsBox.append(labelled('Command', commandSelect), controls);

  const build = () => {
    controls.replaceChildren();
    for (const [field, kind] of Object.entries(COMMANDS[commandSelect.value].fields)) {
      let input;
      if (Array.isArray(kind)) {
        input = document.createElement('select');
        for (const value of kind) input.append(new Option(value, value));
      } else if (kind === 'textarea') {
        input = document.createElement('textarea');
        input.rows = 6;
      } else {
        input = document.createElement('input');
      }
      input.id = `admin-${field}`;
      input.name = field;
      controls.append(labelled(field, input));
    }
  };
  commandSelect.addEventListener('change', build);
  build();

  openButton.addEventListener('click', () => dialog.showModal());
  closeButton.addEventListener('click', () => dialog.close());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = {};
    for (const input of controls.querySelectorAll('[name]')) if (input.value !== '') fields[input.name] = input.value;
    output.classList.remove('error');
    try {
      const reply = await runAdmin(commandSelect.value, currentUser(), fields);
      if (!reply.ok) output.classList.add('error');
      renderMarkdown(output, reply.text);
    } catch (error) {
      output.classList.add('error');
      output.textContent = error.message;
    }
  });
}

function labelled(text, input) {
  const label = document.createElement('label');
  label.className = 'field';
  label.append(document.createTextNode(text), input);
  return label;
}
