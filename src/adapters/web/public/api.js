// The playground's HTTP API, as the page uses it. Errors carry the server's sentence.

async function request(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ?? `HTTP ${response.status}`);
  return data;
}

export const listThreads = () => request('GET', '/api/threads');
export const readThread = (id) => request('GET', `/api/threads/${encodeURIComponent(id)}`);
export const startThread = (message) => request('POST', '/api/threads', message);
export const postMessage = (id, message) => request('POST', `/api/threads/${encodeURIComponent(id)}/messages`, message);
export const stopReply = (replyId) => request('POST', `/api/replies/${encodeURIComponent(replyId)}/stop`);
export const pressControl = (actor, control) => request('POST', '/api/controls', { actor, control });
export const runAdmin = (command, actor, fields) => request('POST', `/api/admin/${encodeURIComponent(command)}`, { actor, fields });

export async function upload(file) {
  const response = await fetch('/api/uploads', {
    method: 'POST',
    headers: { 'content-type': file.type || 'application/octet-stream', 'x-file-name': encodeURIComponent(file.name) },
    body: file,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ?? `Upload failed (HTTP ${response.status})`);
  return data;
}
