// Agentry console: one module, no build step, no dependencies. It calls the service's public API with the key the
// person signed in with; everything it shows is built with DOM calls and textContent (never innerHTML), because
// agent replies, tool results and documents are untrusted text.

const KEY = 'agentry.key';
const state = { key: sessionStorage.getItem(KEY), me: null, timers: [], pendingApprovals: 0 };

// ---------- DOM and API helpers ----------

/** h('button', {class: 'x', onclick}, 'text', child…): an element with properties, attributes and children. */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else if (name in element && typeof value !== 'string') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const svgNs = 'http://www.w3.org/2000/svg';
function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return append(element, children);
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `The service answered ${status}.`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, { method = 'GET', body, accept = 'application/json', key = state.key, raw = false, form } = {}) {
  const headers = { Accept: accept };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: form ?? (body === undefined ? undefined : JSON.stringify(body)) });
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    if (response.status === 401 && key === state.key && state.me) signOut('The key is no longer accepted (revoked, rotated or expired). Sign in again.');
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

function toast(text) {
  const box = document.getElementById('toast');
  box.textContent = text;
  setTimeout(() => { if (box.textContent === text) box.textContent = ''; }, 4000);
}

function errorBox(error) {
  const fields = error.problem?.errors ? Object.entries(error.problem.errors).map(([field, messages]) => `${field}: ${[].concat(messages).join(' ')}`) : [];
  return h('div', { class: 'error', role: 'alert' }, error.message, fields.length ? h('ul', {}, fields.map(f => h('li', {}, f))) : null);
}

/** Runs an action from a button: disabled while it runs, its error shown in place. */
function action(button, slot, run) {
  return async event => {
    event?.preventDefault();
    button.disabled = true;
    slot.replaceChildren();
    try { await run(); } catch (error) { slot.replaceChildren(errorBox(error)); } finally { button.disabled = false; }
  };
}

const json = value => JSON.stringify(value, null, 2);
const time = value => value ? new Date(value).toLocaleString() : '—';
const has = scope => state.me?.scopes.includes('admin') || state.me?.scopes.includes(scope);
const isAdmin = () => state.me?.scopes.includes('admin');

function every(ms, run) {
  run();
  state.timers.push(setInterval(run, ms));
}

// ---------- Sign-in, navigation, routing ----------

const pages = [
  { path: 'chat', title: 'Playground', allowed: () => has('chat') || has('read'), render: playground },
  { path: 'approvals', title: 'Approvals', allowed: isAdmin, render: approvals },
  { path: 'dashboard', title: 'Dashboard', allowed: isAdmin, render: dashboard },
  { path: 'keys', title: 'Keys', allowed: isAdmin, render: keys },
  { path: 'agents', title: 'Agents', allowed: () => has('agents:write') || has('read'), render: agents },
  { path: 'knowledge', title: 'Knowledge', allowed: () => has('knowledge:write') || has('read'), render: knowledge },
  { path: 'evals', title: 'Evals', allowed: () => has('agents:write') || has('read'), render: evals },
  { path: 'mcp', title: 'MCP servers', allowed: isAdmin, render: mcp },
  { path: 'audit', title: 'Audit log', allowed: isAdmin, render: audit },
  { path: 'readiness', title: 'Readiness', allowed: isAdmin, render: readiness },
];

function signOut(message) {
  sessionStorage.removeItem(KEY);
  state.key = null;
  state.me = null;
  state.message = message; // shown by the next render, whichever comes (this one or the hash change's)
  if (location.hash) location.hash = ''; else render();
}

async function start() {
  if (state.key) {
    try { state.me = await api('/v1/me'); } catch { sessionStorage.removeItem(KEY); state.key = null; }
  }
  window.addEventListener('hashchange', () => render());
  render();
}

function render() {
  const message = state.message;
  state.message = null;
  state.timers.forEach(clearInterval);
  state.timers = [];
  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!state.me) {
    nav.replaceChildren();
    who.replaceChildren();
    document.title = 'Sign in · Agentry console';
    main.replaceChildren(signIn(message));
    main.querySelector('input')?.focus();
    return;
  }
  const allowed = pages.filter(p => p.allowed());
  const current = allowed.find(p => `#/${p.path}` === location.hash) ?? allowed[0];
  nav.replaceChildren(h('ul', {}, allowed.map(p => h('li', {}, h('a', { href: `#/${p.path}`, 'aria-current': p === current ? 'page' : null },
    p.title, p.path === 'approvals' ? h('span', { id: 'approvals-badge', class: 'badge', hidden: true }) : null)))));
  who.replaceChildren(h('span', {}, `${state.me.name} (${state.me.scopes.join(', ')})`), h('button', { class: 'secondary', onclick: () => signOut() }, 'Sign out'));
  document.title = `${current?.title ?? 'Console'} · Agentry console`;
  main.replaceChildren();
  if (!current) { main.append(h('p', {}, 'This key has no scope the console can use.')); return; }
  current.render(main);
  if (isAdmin()) every(15000, refreshApprovalBadge);
}

async function refreshApprovalBadge() {
  const badge = document.getElementById('approvals-badge');
  if (!badge) return;
  try {
    const page = await api('/v1/admin/approvals?status=pending&limit=100');
    badge.textContent = String(page.data.length);
    badge.hidden = page.data.length === 0;
    badge.setAttribute('aria-label', `${page.data.length} waiting`);
  } catch { /* shown on the approvals page itself */ }
}

function signIn(message) {
  const input = h('input', { id: 'api-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const slot = h('div');
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'panel signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to the Agentry console'),
    message ? h('p', { class: 'warn', role: 'alert' }, message) : null,
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('p', { class: 'muted' }, 'Kept in this tab only (session storage) and sent as a bearer header; closing the tab forgets it. ',
      'A new installation prints its admin key at first start and keeps it in data/admin-key.txt.'),
    h('div', { class: 'actions' }, submit),
    slot);
  form.addEventListener('submit', action(submit, slot, async () => {
    const key = input.value.trim();
    try {
      state.me = await api('/v1/me', { key });
    } catch (error) {
      throw error.status === 401 ? new Error('That key is not accepted: it is unknown, revoked or expired.') : error;
    }
    state.key = key;
    sessionStorage.setItem(KEY, key);
    const first = `#/${pages.find(p => p.allowed())?.path ?? ''}`;
    if (location.hash === first) render(); else location.hash = first; // the hash change renders
  }));
  return form;
}

// ---------- Playground ----------

function playground(main) {
  const agentSelect = h('select', { id: 'agent' });
  const userInput = h('input', { id: 'user-id', placeholder: 'e.g. alice', autocomplete: 'off' });
  const list = h('ul', { id: 'conversation-list' });
  const more = h('button', { class: 'secondary', hidden: true }, 'Load more');
  const filterAgent = h('select', { id: 'filter-agent' }, h('option', { value: '' }, 'Any agent'));
  const filterUser = h('input', { id: 'filter-user', autocomplete: 'off' });
  const filterStatus = h('select', { id: 'filter-status' }, h('option', { value: '' }, 'Any'), h('option', { value: 'pending_approval' }, 'Waiting for approval'));
  const filterFrom = h('input', { id: 'filter-from', type: 'date' });
  const filterTo = h('input', { id: 'filter-to', type: 'date' });
  const transcript = h('ol', { class: 'transcript', id: 'transcript', 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const message = h('textarea', { id: 'message', rows: 3 });
  const send = h('button', { type: 'submit' }, 'Send');
  const chatSlot = h('div');
  const heading = h('h2', { id: 'chat-title' }, 'No conversation yet');
  const contextButton = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Context of the next turn');
  const contextPanel = h('div');
  let conversation = null;
  let cursor = null;

  const newConversation = h('button', { type: 'button' }, 'New conversation');
  const startSlot = h('div');
  newConversation.addEventListener('click', action(newConversation, startSlot, async () => {
    const created = await api('/v1/conversations', { method: 'POST', body: { agentId: agentSelect.value, userId: userInput.value.trim() || undefined } });
    open(created, created.greeting ? [{ role: 'assistant', agentId: created.agentId, content: created.greeting }] : []);
    loadConversations(true);
  }));

  const filter = h('button', { type: 'button', class: 'secondary' }, 'Filter');
  filter.addEventListener('click', () => loadConversations(true));
  more.addEventListener('click', () => loadConversations(false));

  const composer = h('form', { 'aria-labelledby': 'chat-title' }, h('label', { for: 'message' }, 'Message'), message, h('div', { class: 'actions' }, send, contextButton), chatSlot);
  message.addEventListener('keydown', event => { if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); composer.requestSubmit(); } });
  composer.addEventListener('submit', action(send, chatSlot, async () => {
    const content = message.value.trim();
    if (!content) return;
    if (!conversation) throw new Error('Start a conversation first (New conversation), or open one from the list.');
    message.value = '';
    await streamTurn(conversation.id, content, transcript);
    loadConversations(true);
  }));
  contextButton.addEventListener('click', action(contextButton, contextPanel, async () => {
    const context = await api(`/v1/conversations/${encodeURIComponent(conversation.id)}/context`);
    contextPanel.replaceChildren(h('details', { open: true }, h('summary', {}, `Context for ${context.agentId} on ${context.model}: ${context.totalTokens} tokens`),
      context.parts.map(part => h('div', {}, h('h3', {}, `${part.name} · ${part.tokens} tokens`),
        h('pre', {}, part.text ?? (part.messages ? part.messages.map(m => `${m.role}: ${m.text}`).join('\n') : (part.tools ?? []).join(', ')))))));
  }));

  function open(found, messages) {
    conversation = found;
    heading.textContent = `${found.agentId} · ${found.id}${found.userId ? ` · user ${found.userId}` : ''}`;
    transcript.replaceChildren(...messages.map(renderMessage));
    contextButton.disabled = false;
    contextPanel.replaceChildren();
    for (const button of list.querySelectorAll('button')) button.setAttribute('aria-current', String(button.dataset.id === found.id));
    message.focus();
  }

  async function loadConversations(reset) {
    if (reset) { list.replaceChildren(); cursor = null; }
    const query = new URLSearchParams({ limit: '20' });
    if (filterAgent.value) query.set('agentId', filterAgent.value);
    if (filterUser.value.trim()) query.set('userId', filterUser.value.trim());
    if (filterStatus.value) query.set('status', filterStatus.value);
    // Days in UTC, the 'to' day included.
    if (filterFrom.value) query.set('from', `${filterFrom.value}T00:00:00Z`);
    if (filterTo.value) query.set('to', new Date(Date.parse(`${filterTo.value}T00:00:00Z`) + 86400000).toISOString());
    if (cursor) query.set('cursor', cursor);
    try {
      const page = await api(`/v1/conversations?${query}`);
      for (const c of page.data) {
        const button = h('button', { type: 'button', 'data-id': c.id, 'aria-current': String(c.id === conversation?.id) },
          h('strong', {}, c.title ?? c.agentId), h('br'), h('span', { class: 'muted' }, `${c.userId ? `${c.userId} · ` : ''}${c.messageCount} messages · ${time(c.updatedAt ?? c.createdAt)}`));
        button.addEventListener('click', async () => {
          open(c, await allMessages(c.id));
        });
        list.append(h('li', {}, button));
      }
      cursor = page.nextCursor;
      more.hidden = !cursor;
    } catch (error) {
      list.replaceChildren(h('li', {}, errorBox(error)));
    }
  }

  main.append(h('h1', {}, 'Playground'),
    h('div', { class: 'playground' },
      h('section', { class: 'panel conversations', 'aria-labelledby': 'conversations-title' },
        h('h2', { id: 'conversations-title' }, 'Start'),
        h('label', { for: 'agent' }, 'Agent or workflow'), agentSelect,
        h('label', { for: 'user-id' }, 'User id (optional: memory follows it)'), userInput,
        h('div', { class: 'actions' }, newConversation), startSlot,
        h('h2', {}, 'Past conversations'),
        h('label', { for: 'filter-agent' }, 'Agent'), filterAgent,
        h('label', { for: 'filter-user' }, 'User id'), filterUser,
        h('label', { for: 'filter-status' }, 'Status'), filterStatus,
        h('div', { class: 'row' }, h('div', {}, h('label', { for: 'filter-from' }, 'Active from (UTC)'), filterFrom), h('div', {}, h('label', { for: 'filter-to' }, 'to'), filterTo)),
        h('div', { class: 'actions' }, filter), list, more),
      h('section', { class: 'panel', 'aria-labelledby': 'chat-title' }, heading, transcript, composer, contextPanel)));

  // A chat key lists what it may talk to (agents and workflows); a read key, which only browses, the agents.
  (has('chat') ? api('/v1/models') : api('/v1/agents?limit=100')).then(list => {
    for (const item of list.data) {
      agentSelect.append(h('option', { value: item.id }, item.id));
      filterAgent.append(h('option', { value: item.id }, item.id));
    }
  }).catch(error => startSlot.replaceChildren(errorBox(error)));
  if (!has('chat')) { newConversation.disabled = true; send.disabled = true; }
  loadConversations(true);
}

function citations(metadata) {
  const cited = metadata?.citations;
  if (!cited?.length) return null;
  return h('ol', { class: 'citations', 'aria-label': 'Sources' }, cited.map(c => h('li', { value: c.number }, `${c.document}${c.section ? ` › ${c.section}` : ''}`, h('span', { class: 'muted' }, ` (${c.knowledgeBase})`))));
}

function usage(u) {
  return u ? h('div', { class: 'usage' }, `${u.inputTokens} in · ${u.outputTokens} out tokens`) : null;
}

/** Every message of a conversation, oldest first, a page at a time (a long one is not cut at the first page). */
async function allMessages(conversationId) {
  const messages = [];
  let cursor = null;
  do {
    const page = await api(`/v1/conversations/${encodeURIComponent(conversationId)}/messages?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    messages.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return messages;
}

/** A stored message as the transcript shows it. */
function renderMessage(m) {
  const meta = m.metadata ?? {};
  switch (m.role) {
    case 'user': return h('li', { class: 'msg user' }, h('span', { class: 'who-says' }, 'You'), h('div', { class: 'text' }, m.content));
    case 'tool': return h('li', { class: 'msg tool' }, h('span', { class: 'who-says' }, `Tool ${meta.toolName ?? ''}${m.agentId ? ` · ${m.agentId}` : ''}`),
      meta.arguments ? h('pre', { 'aria-label': 'Arguments' }, json(meta.arguments)) : null, h('div', { class: 'text' }, `→ ${m.content}`));
    case 'handoff': return h('li', { class: 'msg handoff' }, h('span', { class: 'who-says' }, `Handoff to ${m.agentId}`), h('div', { class: 'text' }, m.content));
    default: return h('li', { class: `msg assistant${m.status === 'interrupted' ? ' failed' : ''}` }, h('span', { class: 'who-says' }, m.agentId ?? 'assistant'),
      h('div', { class: 'text' }, m.content), citations(meta), meta.memories?.length ? h('div', { class: 'usage' }, `Used ${meta.memories.length} memory note(s)`) : null,
      m.status === 'pending_approval' ? h('div', { class: 'warn' }, 'Waiting for approval') : null, usage(m.usage));
  }
}

/** Sends a turn as Server-Sent Events and shows each event as it arrives. */
async function streamTurn(conversationId, content, transcript) {
  transcript.append(renderMessage({ role: 'user', content }));
  const response = await api(`/v1/conversations/${encodeURIComponent(conversationId)}/messages`, {
    method: 'POST', body: { content, stream: true }, accept: 'text/event-stream', raw: true,
  });
  let speaking = null; // the assistant bubble being written, and whose it is
  const calls = new Map();
  const show = item => { transcript.append(item); item.scrollIntoView({ block: 'nearest' }); return item; };
  const handle = (type, data) => {
    switch (type) {
      case 'message.delta':
        if (!speaking || speaking.agentId !== data.agentId) {
          const text = h('div', { class: 'text' });
          speaking = { agentId: data.agentId, text, item: show(h('li', { class: 'msg assistant', 'aria-busy': 'true' }, h('span', { class: 'who-says' }, data.agentId), text)) };
        }
        speaking.text.append(data.text);
        break;
      case 'tool.call': {
        speaking = null;
        const result = h('div', { class: 'text muted' }, 'running…');
        calls.set(data.callId, result);
        show(h('li', { class: 'msg tool' }, h('span', { class: 'who-says' }, `Tool ${data.name} · ${data.agentId}`), h('pre', { 'aria-label': 'Arguments' }, json(data.arguments)), result));
        break;
      }
      case 'tool.result': {
        const slot = calls.get(data.callId);
        const text = `→ ${data.outcome}${data.durationMs !== undefined ? ` in ${data.durationMs} ms` : ''}: ${typeof data.result === 'string' ? data.result : json(data.result)}`;
        if (slot) { slot.className = 'text'; slot.textContent = text; } else show(h('li', { class: 'msg tool' }, text));
        break;
      }
      case 'handoff':
        speaking = null;
        show(h('li', { class: 'msg handoff' }, h('span', { class: 'who-says' }, 'Handoff'), `${data.from} → ${data.to} (${data.mode}${data.score !== undefined && data.score !== null ? `, ${Number(data.score).toFixed(2)}` : ''}): ${data.reason ?? ''}`));
        break;
      case 'rule':
        show(h('li', { class: 'msg rule' }, h('span', { class: 'who-says' }, `Rule ${data.rule} · ${data.stage}`), `${data.action}${data.detail ? `: ${data.detail}` : ''}`));
        break;
      case 'workflow.step':
        speaking = null;
        show(h('li', { class: 'msg step' }, `Workflow ${data.workflow}: step ${data.step} (${data.agentId})`));
        break;
      case 'approval.pending':
        speaking = null;
        for (const slot of calls.values()) if (slot.textContent === 'running…') slot.textContent = 'held: waiting for a person to approve it';
        show(h('li', { class: 'msg approval' }, h('span', { class: 'who-says' }, 'Waiting for approval'),
          `${data.tool} held by ${data.rule}`, h('pre', { 'aria-label': 'Arguments' }, json(data.arguments)),
          isAdmin() ? h('a', { href: '#/approvals' }, 'Decide in Approvals') : h('span', { class: 'muted' }, 'An admin decides in the console\'s Approvals page.')));
        break;
      case 'message.completed': {
        const item = speaking?.item ?? show(h('li', { class: 'msg assistant' }, h('span', { class: 'who-says' }, data.agentId), h('div', { class: 'text' }, data.content)));
        item.removeAttribute('aria-busy');
        if (speaking) speaking.text.textContent = data.content; // the stored reply (output rules may have changed it)
        append(item, [citations(data.metadata), usage(data.usage)]);
        speaking = null;
        break;
      }
      case 'turn.completed':
        show(h('li', { class: 'usage' }, `Turn ${data.status ?? 'completed'} · ${data.model ?? ''} · ${data.usage ? `${data.usage.inputTokens} in, ${data.usage.outputTokens} out tokens` : ''}`));
        break;
      case 'error':
        show(h('li', { class: 'msg failed', role: 'alert' }, `${data.title ?? 'Error'}: ${data.detail ?? ''}`));
        break;
    }
  };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) handle(type, JSON.parse(data.join('\n')));
    }
  }
}

// ---------- Approvals ----------

function approvals(main) {
  const list = h('div', { id: 'approval-list' });
  main.append(h('h1', {}, 'Approvals'), h('p', { class: 'muted' }, 'Tool calls a rule or a tool policy held for a person. Approving runs the tool and the turn goes on; rejecting tells the agent.'), list);
  const load = async () => {
    try {
      const page = await api('/v1/admin/approvals?status=pending&limit=50');
      list.replaceChildren(...(page.data.length ? page.data.map(approvalCard) : [h('p', { class: 'panel' }, 'Nothing is waiting.')]));
    } catch (error) { list.replaceChildren(errorBox(error)); }
  };
  function approvalCard(approval) {
    const note = h('textarea', { id: `note-${approval.id}`, rows: 2 });
    const slot = h('div');
    const context = h('ol', { class: 'transcript', 'aria-label': 'The conversation before it' });
    const approve = h('button', { type: 'button' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'danger' }, 'Reject');
    const decide = verb => async () => {
      const turn = await api(`/v1/admin/approvals/${encodeURIComponent(approval.id)}/${verb}`, { method: 'POST', body: { note: note.value.trim() || undefined } });
      card.replaceChildren(h('h2', {}, `${verb === 'approve' ? 'Approved' : 'Rejected'}: ${approval.toolName}`),
        h('ol', { class: 'transcript', 'aria-label': 'What the turn did next' }, (turn.messages ?? []).map(renderMessage)));
      refreshApprovalBadge();
    };
    approve.addEventListener('click', action(approve, slot, decide('approve')));
    reject.addEventListener('click', action(reject, slot, decide('reject')));
    const card = h('section', { class: 'panel', 'aria-label': `Approval ${approval.id}` },
      h('h2', {}, `${approval.toolName} · ${approval.agentId}`),
      h('p', { class: 'muted' }, `Held by ${approval.ruleId} · ${time(approval.createdAt)} · conversation ${approval.conversationId}`),
      h('pre', { 'aria-label': 'Arguments' }, json(approval.arguments)),
      h('details', {}, h('summary', {}, 'The conversation around it'), context),
      h('label', { for: `note-${approval.id}` }, 'Reason (kept in the audit log)'), note,
      h('div', { class: 'actions' }, approve, reject), slot);
    card.querySelector('details').addEventListener('toggle', async () => {
      if (context.childElementCount) return;
      const messages = await allMessages(approval.conversationId);
      context.replaceChildren(...messages.slice(-8).map(renderMessage));
    });
    return card;
  }
  load();
}

// ---------- Dashboard ----------

/** A bar chart (series 1) with optional lines (series 2 and 3), drawn as SVG with a title and a text summary for screen readers. */
function chart(title, labels, bars, lines = [], { unit = '', lineUnit = '' } = {}) {
  const width = 480, height = 180, left = 36, bottom = 22, top = 8;
  const max = Math.max(1, ...bars);
  const lineMax = Math.max(1, ...lines.flat().filter(v => v !== null));
  const step = Math.min(48, (width - left) / Math.max(1, labels.length)); // a few bars stay bars, not slabs
  const y = (value, top_) => height - bottom - (value / top_) * (height - bottom - top);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${title}: ${summary(labels, bars, unit)}` },
    s('title', {}, title),
    s('line', { class: 'axis', x1: left, y1: height - bottom, x2: width, y2: height - bottom }),
    s('text', { x: 0, y: top + 8 }, `${round(max)}${unit}`),
    s('text', { x: 0, y: height - bottom }, '0'));
  bars.forEach((value, i) => svg.append(s('rect', { class: 's1', x: left + i * step + 1, y: y(value, max), width: Math.max(1, step - 2), height: height - bottom - y(value, max) },
    s('title', {}, `${labels[i]}: ${round(value)}${unit}`))));
  lines.forEach((series, index) => {
    const points = series.map((value, i) => value === null ? null : `${left + i * step + step / 2},${y(value, lineMax)}`).filter(Boolean);
    if (points.length) svg.append(s('polyline', { class: `s${index + 2}`, points: points.join(' ') }));
  });
  const every_ = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => { if (i % every_ === 0) svg.append(s('text', { x: left + i * step, y: height - 6 }, label)); });
  if (lines.length) svg.append(s('text', { x: width - 60, y: top + 8 }, `${round(lineMax)}${lineUnit}`));
  return svg;
}

const round = value => Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
function summary(labels, values, unit) {
  if (!values.length) return 'no data yet';
  const total = values.reduce((a, b) => a + b, 0);
  return `${values.length} points, total ${round(total)}${unit}, highest ${round(Math.max(...values))}${unit} at ${labels[values.indexOf(Math.max(...values))]}`;
}

function dashboard(main) {
  const cards = h('div', { class: 'cards', id: 'dashboard-cards' });
  const charts = h('div', { class: 'charts', id: 'dashboard-charts' });
  const lower = h('div', { id: 'dashboard-tables' });
  const stamp = h('p', { class: 'muted', 'aria-live': 'off' });
  main.append(h('h1', {}, 'Dashboard'), stamp, cards, charts, lower);
  every(10000, async () => {
    // Worked out at each refresh: a tab left open goes on past midnight, and the last hour may begin yesterday (UTC).
    const today = new Date().toISOString().slice(0, 10);
    const hourAgo = new Date(Date.now() - 3600000).toISOString().slice(0, 10);
    const weekAgo = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
    try {
      const [minutes, days, byAgent, byModel, errors, system, mcpServers, backups] = await Promise.all([
        api(`/v1/admin/analytics?groupBy=minute&from=${hourAgo}&to=${today}`), api(`/v1/admin/analytics?groupBy=day&from=${weekAgo}&to=${today}`),
        api(`/v1/admin/analytics?groupBy=agent&from=${weekAgo}&to=${today}`), api(`/v1/admin/analytics?groupBy=model&from=${weekAgo}&to=${today}`),
        api('/v1/admin/errors?limit=5'), api('/system/health'), api('/v1/mcp/servers?limit=50'), api('/v1/admin/backups')]);
      const recent = lastHour(minutes.data);
      const turns = recent.reduce((a, r) => a + r.requests, 0);
      const failed = recent.reduce((a, r) => a + r.errors, 0);
      const r = system.resources ?? {};
      cards.replaceChildren(
        card('Turns, last hour', turns), card('Failed turns, last hour', failed),
        card('p50 / p99, last hour', recent.length ? `${Math.max(...recent.map(x => x.latencyP50Ms))} / ${Math.max(...recent.map(x => x.latencyP99Ms))} ms` : '—'),
        card('Active alerts', system.alerts.active.length, system.alerts.active.map(a => a.name ?? a.alert).join(', ')),
        card('CPU · memory', `${r.cpuPercent ?? '—'}% · ${r.workingSetMb ?? '—'} MB`), card('Free disk', r.freeDiskMb !== undefined ? `${r.freeDiskMb} MB` : '—'),
        card('Newest verified backup', backups.lastVerifiedAgeSeconds === null || backups.lastVerifiedAgeSeconds === undefined ? 'none yet' : `${round(backups.lastVerifiedAgeSeconds / 3600)} h ago`),
        card('MCP servers', `${mcpServers.data.filter(m => m.status === 'connected').length} of ${mcpServers.data.length} connected`));
      charts.replaceChildren(
        figure('Turns per minute (bars) with p50 and p99 latency (lines), last hour', chart('Turns per minute', recent.map(x => x.group.slice(11)), recent.map(x => x.requests),
          [recent.map(x => x.latencyP50Ms), recent.map(x => x.latencyP99Ms)], { lineUnit: ' ms' }), ['k1', 'turns'], ['k2', 'p50'], ['k3', 'p99']),
        figure('Tokens per day (bars) and estimated cost (line), last 7 days', chart('Tokens per day', days.data.map(x => x.group.slice(5)), days.data.map(x => x.inputTokens + x.outputTokens),
          [days.data.map(x => x.estimatedCostUsd)], { lineUnit: ' USD' }), ['k1', 'tokens'], ['k2', 'cost']),
        figure('Tokens by agent, last 7 days', chart('Tokens by agent', byAgent.data.map(x => x.group), byAgent.data.map(x => x.inputTokens + x.outputTokens)), ['k1', 'tokens']),
        figure('Cost by model, last 7 days (USD)', chart('Cost by model', byModel.data.map(x => x.group), byModel.data.map(x => x.estimatedCostUsd), [], { unit: ' USD' }), ['k1', 'USD']));
      lower.replaceChildren(h('h2', {}, 'Top error groups'), table(['Kind', 'Message', 'Count', 'Last seen'],
        errors.data.map(e => [e.kind, `${e.type}${e.lastMessage ? `: ${e.lastMessage}` : ''}`, e.count, time(e.lastSeen)])));
      stamp.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every 10 s`;
    } catch (error) { lower.replaceChildren(errorBox(error)); }
  });
}

/** The minutes of the last hour, with the quiet ones as zero so the chart's time axis is true. */
function lastHour(rows) {
  const byMinute = new Map(rows.map(r => [r.group, r]));
  const now = Date.now();
  return Array.from({ length: 60 }, (_, i) => {
    const minute = new Date(now - (59 - i) * 60000).toISOString().slice(0, 16);
    return byMinute.get(minute) ?? { group: minute, requests: 0, errors: 0, latencyP50Ms: null, latencyP99Ms: null };
  });
}

const card = (label, figure_, note) => h('div', { class: 'card' }, h('div', { class: 'muted' }, label), h('div', { class: 'figure' }, String(figure_)), note ? h('div', { class: 'muted' }, note) : null);
const figure = (caption, svg, ...legend) => h('figure', { class: 'panel' }, h('figcaption', {}, caption), svg, h('div', { class: 'legend' }, legend.map(([k, text]) => h('span', { class: k }, text))));

function table(headings, rows) {
  if (!rows.length) return h('p', { class: 'muted' }, 'None.');
  return h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, headings.map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map(cells => h('tr', {}, cells.map(c => h('td', {}, c instanceof Node ? c : String(c ?? '—'))))))));
}

// ---------- Keys ----------

const scopes = ['admin', 'agents:write', 'knowledge:write', 'chat', 'read', 'metrics'];

function keys(main) {
  const name = h('input', { id: 'key-name', required: true, autocomplete: 'off' });
  const boxes = scopes.map(scope => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: scope, name: 'scope' }), scope));
  const create = h('button', { type: 'submit' }, 'Create key');
  const slot = h('div');
  const secret = h('div', { id: 'new-secret' });
  const list = h('div');
  const form = h('form', { class: 'panel', 'aria-labelledby': 'create-key-title' }, h('h2', { id: 'create-key-title' }, 'Create a key'),
    h('label', { for: 'key-name' }, 'Name'), name, h('fieldset', {}, h('legend', {}, 'Scopes'), boxes), h('div', { class: 'actions' }, create), slot);
  form.addEventListener('submit', action(create, slot, async () => {
    const chosen = boxes.map(b => b.querySelector('input')).filter(i => i.checked).map(i => i.value);
    const created = await api('/v1/admin/keys', { method: 'POST', body: { name: name.value.trim(), scopes: chosen } });
    showSecret(created);
    name.value = '';
    load();
  }));
  function showSecret(created) {
    const copy = h('button', { type: 'button' }, 'Copy');
    const done = h('button', { type: 'button', class: 'secondary' }, 'I have stored it');
    copy.addEventListener('click', async () => {
      await navigator.clipboard.writeText(created.secret);
      copy.textContent = 'Copied';
      toast('The secret is on the clipboard.');
    });
    done.addEventListener('click', () => secret.replaceChildren());
    secret.replaceChildren(h('section', { class: 'panel', role: 'alert' }, h('h2', {}, `Secret of ${created.key.name}`),
      h('p', {}, 'Shown only now: Agentry keeps only a hash of it.'), h('div', { class: 'secret' }, h('code', { id: 'secret-value' }, created.secret), copy, done)));
    copy.focus();
  }
  const load = async () => {
    try {
      const weekAgo = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
      const [page, usage] = await Promise.all([api('/v1/admin/keys'), api(`/v1/admin/analytics?groupBy=key&from=${weekAgo}`)]);
      const byKey = new Map(usage.data.map(u => [u.group, u]));
      const used = k => byKey.has(k.id) ? `${byKey.get(k.id).requests} requests, ${byKey.get(k.id).inputTokens + byKey.get(k.id).outputTokens} tokens` : 'none';
      list.replaceChildren(table(['Name', 'Prefix', 'Scopes', 'Status', 'Last used', 'Last 7 days', ''], page.data.map(k => [k.name, h('code', {}, k.prefix), k.scopes.join(', '), k.status,
        time(k.lastUsedAt), used(k), k.status === 'active' ? keyActions(k) : ''])));
    } catch (error) { list.replaceChildren(errorBox(error)); }
  };
  function keyActions(k) {
    const rotate = h('button', { type: 'button', class: 'secondary', 'aria-label': `Rotate ${k.name}` }, 'Rotate');
    const revoke = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${k.name}` }, 'Revoke');
    const slot_ = h('div');
    rotate.addEventListener('click', action(rotate, slot_, async () => {
      if (!confirm(`Rotate ${k.name}? Its current secret stops working at once.`)) return;
      showSecret(await api(`/v1/admin/keys/${encodeURIComponent(k.id)}/rotate`, { method: 'POST' }));
      load();
    }));
    revoke.addEventListener('click', action(revoke, slot_, async () => {
      if (!confirm(`Revoke ${k.name}? Every request with it is refused from now on.`)) return;
      await api(`/v1/admin/keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
      load();
    }));
    return h('div', { class: 'actions' }, rotate, revoke, slot_);
  }
  main.append(h('h1', {}, 'API keys'), form, secret, h('h2', {}, 'Keys'), list);
  load();
}

// ---------- Agents ----------

function agents(main) {
  const list = h('div');
  const detail = h('div', { id: 'agent-detail' });
  const create = h('button', { type: 'button' }, 'New agent');
  main.append(h('h1', {}, 'Agents'), has('agents:write') ? h('div', { class: 'actions' }, create) : null, list, detail);
  // A new agent (or one imported from a file: paste its YAML) starts from a small valid definition.
  create.addEventListener('click', () => showAgent({ id: '', source: 'api' }, 'id: my-agent\nname: My agent\ndescription: What it is for.\ninstructions: |\n  How it answers.\n')
    .catch(error => detail.replaceChildren(errorBox(error))));
  api('/v1/agents?limit=100').then(page => list.replaceChildren(table(['Id', 'Name', 'Model', 'Source', ''], page.data.map(a => {
    const view = h('button', { type: 'button', class: 'secondary', 'aria-label': `View ${a.id}` }, 'View');
    view.addEventListener('click', () => showAgent(a).catch(error => detail.replaceChildren(errorBox(error))));
    return [a.id, a.name ?? '', a.model ?? 'default', a.source, view];
  })))).catch(error => list.replaceChildren(errorBox(error)));
  async function showAgent(agent, template) {
    const yaml = template ?? (await api(`/v1/agents/${encodeURIComponent(agent.id)}/yaml`)).yaml;
    const editor = h('textarea', { id: 'agent-yaml', rows: Math.min(30, yaml.split('\n').length + 2), spellcheck: 'false', class: 'code' });
    editor.value = yaml;
    const check = h('button', { type: 'button', class: 'secondary' }, 'Check');
    const save = h('button', { type: 'button' }, 'Save');
    const download = h('button', { type: 'button', class: 'secondary' }, 'Export');
    const problems = h('div', { id: 'agent-problems', 'aria-live': 'polite' });
    const checked = async () => {
      const result = await api('/v1/agents:check', { method: 'POST', body: { yaml: editor.value } });
      problems.replaceChildren(result.errors.length
        ? h('div', { role: 'alert' }, h('p', { class: 'error' }, `${result.errors.length} problem(s):`), h('ul', {}, result.errors.map(problemItem)))
        : h('p', { class: 'ok' }, 'The definition is valid.'));
      return result;
    };
    // Each problem moves the caret to its line, so the author sees the place at once.
    const problemItem = error => {
      const text = `${error.line ? `Line ${error.line}${error.column ? `, column ${error.column}` : ''}: ` : ''}${error.field ? `${error.field}: ` : ''}${error.message}`;
      if (!error.line) return h('li', {}, text);
      const go = h('button', { type: 'button', class: 'secondary', 'data-line': error.line }, text);
      go.addEventListener('click', () => selectLine(editor, error.line));
      return h('li', {}, go);
    };
    check.addEventListener('click', action(check, problems, checked));
    save.addEventListener('click', action(save, problems, async () => {
      const result = await checked();
      if (!result.agent) return;
      const id = agent.id || result.agent.id;
      if (!id) throw new Error('Give the agent an id (id: …) before saving it.');
      await api(`/v1/agents/${encodeURIComponent(id)}`, { method: 'PUT', body: result.agent });
      problems.replaceChildren(h('p', { class: 'ok' }, `Saved ${id}.`));
    }));
    download.addEventListener('click', () => {
      const link = h('a', { href: URL.createObjectURL(new Blob([editor.value], { type: 'application/yaml' })), download: `${agent.id}.yaml` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    });
    const sample = h('textarea', { id: 'rule-sample', rows: 2 });
    const test = h('button', { type: 'button' }, 'Test the rules');
    const slot = h('div');
    const result = h('pre', { 'aria-live': 'polite' });
    test.addEventListener('click', action(test, slot, async () => {
      result.textContent = json(await api(`/v1/agents/${encodeURIComponent(agent.id)}/rules:test`, { method: 'POST', body: { message: sample.value } }));
    }));
    detail.replaceChildren(h('section', { class: 'panel', 'aria-labelledby': 'agent-title' }, h('h2', { id: 'agent-title' }, agent.id || 'New agent'),
      agent.source === 'file' ? h('p', { class: 'muted' }, `Defined in ${agent.file}: check changes here, then edit the file and reload (POST /v1/agents:reload).`) : null,
      h('label', { for: 'agent-yaml' }, 'Definition (YAML)'), editor,
      h('div', { class: 'actions' }, check, has('agents:write') && agent.source !== 'file' ? save : null, download), problems,
      agent.id ? [h('label', { for: 'rule-sample' }, 'Try a message against its rules'), sample, h('div', { class: 'actions' }, test), slot, result] : null,
      agent.id ? versionsOf(agent) : null));
  }

  /** The agent's versions: what each change touched, its diff, and for an API agent a way back to it. */
  function versionsOf(agent) {
    const section = h('section', { 'aria-labelledby': 'versions-title' }, h('h3', { id: 'versions-title' }, 'Versions'));
    const list = h('div');
    const diff = h('div', { 'aria-live': 'polite' });
    section.append(list, diff);
    const load = () => api(`/v1/agents/${encodeURIComponent(agent.id)}/versions?limit=50`).then(page => list.replaceChildren(table(['Version', 'Hash', 'Source', 'Changed', 'When', ''],
      page.data.map(v => {
        const show = h('button', { type: 'button', class: 'secondary', 'aria-label': `Diff of version ${v.version}` }, 'Diff');
        show.addEventListener('click', action(show, diff, async () => {
          const detail = await api(`/v1/agents/${encodeURIComponent(agent.id)}/versions/${v.version}`);
          diff.replaceChildren(h('h4', {}, `Version ${v.version} against the one before`),
            h('pre', { class: 'diff' }, detail.diff.map(line => h('span', { class: line.startsWith('+') ? 'added' : line.startsWith('-') ? 'removed' : null }, line + '\n'))));
        }));
        const restore = h('button', { type: 'button', class: 'secondary', 'aria-label': `Restore version ${v.version}` }, 'Restore');
        restore.addEventListener('click', action(restore, diff, async () => {
          await api(`/v1/agents/${encodeURIComponent(agent.id)}/versions/${v.version}/restore`, { method: 'POST' });
          toast(`Restored version ${v.version} of ${agent.id}.`);
          await load();
          await showAgent(agent);
        }));
        const canRestore = !v.current && agent.source !== 'file' && has('agents:write');
        return [`${v.version}${v.current ? ' (current)' : ''}`, h('code', {}, v.hash), v.restoredFrom ? `restore of ${v.restoredFrom}` : v.source,
          v.version === 1 ? 'first version' : v.changed.join(', ') || '—', time(v.createdAt), h('span', { class: 'actions' }, show, canRestore ? restore : null)];
      })))).catch(error => list.replaceChildren(errorBox(error)));
    load();
    return section;
  }
}

/** Selects line <n> (1-based) of a textarea and scrolls it into view. */
function selectLine(textarea, n) {
  const lines = textarea.value.split('\n');
  const start = lines.slice(0, n - 1).reduce((total, line) => total + line.length + 1, 0);
  textarea.focus();
  textarea.setSelectionRange(start, start + (lines[n - 1]?.length ?? 0));
  const lineHeight = textarea.scrollHeight / Math.max(1, lines.length);
  textarea.scrollTop = Math.max(0, (n - 3) * lineHeight);
}

// ---------- Evals ----------

function evals(main) {
  const suites = h('div');
  const runs = h('div');
  const report = h('div', { id: 'eval-report' });
  const slot = h('div');
  main.append(h('h1', {}, 'Evals'),
    h('p', { class: 'muted' }, 'Suites of scripted conversations with expectations, run through the real agents with tools that act running dry. ' +
      'The same runs come from the command line (agentry eval run) in a deployment pipeline.'),
    h('h2', {}, 'Suites'), suites, slot, h('h2', {}, 'Runs'), runs, report);
  const start = async names => {
    const run = await api('/v1/evals/runs', { method: 'POST', body: names ? { suites: names } : {} });
    toast(`Started ${run.id}.`);
    await loadRuns();
  };
  api('/v1/evals/suites').then(list => suites.replaceChildren(
    table(['Suite', 'Source', 'Cases', ''], list.suites.map(suite => {
      const run = h('button', { type: 'button', 'aria-label': `Run ${suite.id}` }, 'Run');
      run.addEventListener('click', action(run, slot, () => start([suite.id])));
      return [suite.id, suite.source, suite.cases, has('agents:write') ? run : ''];
    })),
    list.errors.length ? h('div', { class: 'error', role: 'alert' }, 'Suites that cannot be read:', h('ul', {}, list.errors.map(e => h('li', {}, e)))) : ''))
    .catch(error => suites.replaceChildren(errorBox(error)));
  async function loadRuns() {
    const page = await api('/v1/evals/runs?limit=20');
    runs.replaceChildren(table(['Run', 'Status', 'Progress', 'Pass rate', 'Started', ''], page.data.map(run => {
      const open = h('button', { type: 'button', class: 'secondary', 'aria-label': `Report of ${run.id}` }, 'Report');
      open.addEventListener('click', action(open, report, () => showReport(run.id)));
      return [h('code', {}, run.id), h('span', { class: `status ${run.status}` }, run.status), `${run.casesDone}/${run.casesTotal}`,
        run.passRate === null ? '—' : `${(run.passRate * 100).toFixed(1)} %`, time(run.createdAt), run.status === 'running' ? '' : open];
    })));
  }
  every(2000, () => loadRuns().catch(error => runs.replaceChildren(errorBox(error))));
  async function showReport(id) {
    const run = await api(`/v1/evals/runs/${encodeURIComponent(id)}`);
    const r = run.report;
    if (!r) { report.replaceChildren(h('p', { class: 'error' }, run.error ?? 'This run has no report.')); return; }
    const rows = [];
    for (const result of r.results)
      for (const turn of result.turns)
        for (const check of turn.checks)
          rows.push([`${result.suite}/${result.case}`, r.models.length > 1 ? result.model : null, turn.turn, check.expectation,
            h('span', { class: `status ${check.status}` }, check.status), check.status === 'passed' ? '' : check.reason ?? ''].filter(c => c !== null));
    report.replaceChildren(h('section', { class: 'panel', 'aria-labelledby': 'report-title' },
      h('h2', { id: 'report-title' }, `Report of ${r.runId}: ${r.status}`),
      table(['Model', 'Cases holding', 'Pass rate (95% CI)', 'Latency p50 / p95', 'Cost', 'Tokens'], r.summaries.map(m => [m.model, `${m.casesHolding}/${m.cases}`,
        `${(m.passRate * 100).toFixed(1)} % (${(m.passRateLow * 100).toFixed(1)}–${(m.passRateHigh * 100).toFixed(1)})`,
        `${Math.round(m.latencyP50Ms)} / ${Math.round(m.latencyP95Ms)} ms`, `${m.costUsd.toFixed(4)} USD`, m.tokens])),
      r.regressions.length ? h('div', { class: 'error', role: 'alert' }, `Regressed since ${r.baselineRunId}:`,
        h('ul', {}, r.regressions.map(g => h('li', {}, `${g.suite}/${g.case} (${g.model})`)))) : null,
      table(r.models.length > 1 ? ['Case', 'Model', 'Turn', 'Expectation', 'Result', 'Why'] : ['Case', 'Turn', 'Expectation', 'Result', 'Why'], rows),
      h('p', { class: 'muted' }, `Agent versions: ${Object.entries(r.agentVersions).map(([agent, version]) => `${agent} ${version}`).join(', ')}`)));
  }
}

// ---------- Knowledge ----------

function knowledge(main) {
  const bases = h('div');
  const detail = h('div');
  main.append(h('h1', {}, 'Knowledge bases'), bases, detail);
  api('/v1/knowledge').then(page => bases.replaceChildren(table(['Knowledge base', 'Documents', 'Queued', ''], page.data.map(b => {
    const open = h('button', { type: 'button', class: 'secondary', 'aria-label': `Open ${b.name}` }, 'Open');
    open.addEventListener('click', () => showBase(b.name));
    return [b.name, b.documents, b.queued, open];
  })))).catch(error => bases.replaceChildren(errorBox(error)));
  function showBase(kb) {
    const query = h('input', { id: 'kb-query', autocomplete: 'off' });
    const search = h('button', { type: 'submit' }, 'Search');
    const hits = h('div', { 'aria-live': 'polite' });
    const slot = h('div');
    const file = h('input', { id: 'kb-file', type: 'file', accept: '.md,.txt,.html,.htm,.pdf' });
    const upload = h('button', { type: 'submit' }, 'Upload');
    const uploadSlot = h('div');
    const documents = h('div');
    const passages = h('div', { 'aria-live': 'polite' });
    const searchForm = h('form', {}, h('label', { for: 'kb-query' }, 'Try a search'), h('div', { class: 'row' }, query, search), slot, hits);
    searchForm.addEventListener('submit', action(search, slot, async () => {
      const found = await api(`/v1/knowledge/${encodeURIComponent(kb)}/search`, { method: 'POST', body: { query: query.value, topK: 5 } });
      hits.replaceChildren(...(found.data.length ? found.data.map(hit => h('div', { class: 'panel' }, h('strong', {}, `${hit.document}${hit.section ? ` › ${hit.section}` : ''}`),
        h('span', { class: 'muted' }, ` score ${round(hit.score)}`), h('p', { class: 'text' }, hit.text))) : [h('p', {}, 'Nothing in this knowledge base is about that.')]));
    }));
    const uploadForm = h('form', {}, h('label', { for: 'kb-file' }, 'Add or replace a document (Markdown, text, HTML, PDF)'), h('div', { class: 'row' }, file, upload), uploadSlot);
    uploadForm.addEventListener('submit', action(upload, uploadSlot, async () => {
      if (!file.files.length) throw new Error('Choose a file first.');
      const form = new FormData();
      form.append('file', file.files[0]);
      const added = await api(`/v1/knowledge/${encodeURIComponent(kb)}/documents`, { method: 'POST', form });
      uploadSlot.replaceChildren(h('p', { class: 'ok' }, `${added.name}: ${added.status}`));
      loadDocuments();
    }));
    const loadDocuments = async () => {
      const page = await api(`/v1/knowledge/${encodeURIComponent(kb)}/documents?limit=100`);
      documents.replaceChildren(table(['Document', 'Format', 'Version', 'Status', 'Passages', 'Updated'], page.data.map(d => {
        const show = h('button', { type: 'button', class: 'secondary', 'aria-label': `Show ${d.chunkCount} passages of ${d.name}` }, `Show ${d.chunkCount}`);
        show.addEventListener('click', async () => {
          const detail_ = await api(`/v1/knowledge/${encodeURIComponent(kb)}/documents/${encodeURIComponent(d.id)}`);
          passages.replaceChildren(h('h3', {}, `Passages of ${d.name}`), ...detail_.chunks.map(c => h('div', { class: 'panel' },
            h('strong', {}, c.section || d.name), h('span', { class: 'muted' }, ` · ${c.tokens} tokens · characters ${c.start}–${c.end}`), h('p', { class: 'text' }, c.text))));
        });
        return [d.name, d.format, d.version, `${d.status}${d.error ? `: ${d.error}` : ''}`, show, time(d.updatedAt)];
      })));
    };
    detail.replaceChildren(h('section', { class: 'panel', 'aria-label': kb }, h('h2', {}, kb), searchForm, has('knowledge:write') ? uploadForm : null, h('h3', {}, 'Documents'), documents, passages));
    loadDocuments().catch(error => documents.replaceChildren(errorBox(error)));
  }
}

// ---------- MCP servers ----------

function mcp(main) {
  const list = h('div');
  main.append(h('h1', {}, 'MCP servers'), list);
  const load = () => api('/v1/mcp/servers?limit=50').then(page => list.replaceChildren(page.data.length ? table(['Server', 'Status', 'Tools', 'Held changes', ''], page.data.map(m => {
    const held = m.heldToolChanges ?? [];
    let approve = '';
    if (held.length) {
      const button = h('button', { type: 'button', 'aria-label': `Approve the changed tools of ${m.name}` }, 'Approve changed tools');
      const slot = h('div');
      button.addEventListener('click', action(button, slot, async () => {
        await api(`/v1/mcp/servers/${encodeURIComponent(m.name)}/approve-tools`, { method: 'POST', body: { toolsHash: m.pendingToolsHash } });
        load();
      }));
      approve = h('div', {}, button, slot);
    }
    return [m.name, `${m.status}${m.error ? `: ${m.error}` : ''}`, m.tools.map(t => t.name).join(', '), held.map(c => `${c.name}: ${c.change}`).join('; '), approve];
  })) : h('p', { class: 'panel' }, 'No MCP server is configured. See docs/mcp.md.'))).catch(error => list.replaceChildren(errorBox(error)));
  load();
}

// ---------- Audit ----------

function audit(main) {
  const actionInput = h('input', { id: 'audit-action', placeholder: 'e.g. key.created', autocomplete: 'off' });
  const filter = h('button', { type: 'submit' }, 'Filter');
  const verify = h('button', { type: 'button', class: 'secondary' }, 'Verify the chain');
  const verdict = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older');
  let cursor = null;
  const form = h('form', { class: 'panel' }, h('label', { for: 'audit-action' }, 'Action'), h('div', { class: 'row' }, actionInput, filter, verify), verdict);
  const rows = [];
  const load = async reset => {
    if (reset) { rows.length = 0; cursor = null; }
    const query = new URLSearchParams({ limit: '50' });
    if (actionInput.value.trim()) query.set('action', actionInput.value.trim());
    if (cursor) query.set('cursor', cursor);
    try {
      const page = await api(`/v1/admin/audit?${query}`);
      rows.push(...page.data.map(e => [time(e.time), e.actor, e.action, e.target ?? '', e.outcome]));
      list.replaceChildren(table(['Time', 'Actor', 'Action', 'Target', 'Outcome'], rows));
      cursor = page.nextCursor;
      more.hidden = !cursor;
    } catch (error) { list.replaceChildren(errorBox(error)); }
  };
  form.addEventListener('submit', event => { event.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  verify.addEventListener('click', action(verify, verdict, async () => {
    const result = await api('/v1/admin/audit/verify');
    verdict.replaceChildren(h('p', { class: result.valid ? 'ok' : 'error' }, result.valid ? `Intact: ${result.checked} events verified.` : `Tampered: ${result.problem}`));
  }));
  main.append(h('h1', {}, 'Audit log'), form, list, more);
  load(true);
}

// ---------- Readiness ----------

function readiness(main) {
  const body = h('div');
  main.append(h('h1', {}, 'Production readiness'), body);
  api('/v1/admin/readiness').then(report => {
    const failed = report.checks.filter(c => !c.passed);
    body.replaceChildren(
      h('section', { class: 'panel', 'aria-label': 'Score' }, h('div', { class: 'score' }, `${report.score}/100`),
        h('div', { class: 'cards' }, report.categories.map(c => h('div', { class: 'card' }, h('label', { for: `meter-${c.name}` }, c.name),
          h('meter', { id: `meter-${c.name}`, min: 0, max: c.maxPoints, value: c.points }), h('div', {}, `${c.points} of ${c.maxPoints}`))))),
      h('h2', {}, `To fix (${failed.length})`),
      ...failed.map(c => h('section', { class: 'panel' }, h('h3', {}, `${c.title} (${c.category}, ${c.weight} points)`), h('p', {}, c.found), h('p', {}, h('strong', {}, 'Fix: '), c.fix))),
      h('h2', {}, 'Passed'),
      table(['Item', 'Category', 'Found'], report.checks.filter(c => c.passed).map(c => [c.title, c.category, c.found])),
      h('p', { class: 'muted' }, 'The same report: agentry doctor (--strict N fails a pipeline below N).'));
  }).catch(error => body.replaceChildren(errorBox(error)));
}

start();
