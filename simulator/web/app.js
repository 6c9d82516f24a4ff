// The desktop simulator's page: redraws everything from each snapshot the server pushes
// (GET /events), and turns clicks into JSON calls to /api/*. No framework, no build step.
const $ = (id) => document.getElementById(id);
const money = (minor) => (minor / 100).toFixed(2);
const time = (ms) => new Date(ms).toLocaleTimeString();
let snap = null;
let phoneImage = null;

// Where each payment-machine state sits on the diagram (column, row): the happy path on
// the top row, waits and recovery below, final states on the right.
const DIAGRAM = [
  ['waiting_scan', 1, 1], ['submitting', 2, 1], ['querying', 3, 1], ['paid', 5, 1],
  ['waiting_network', 2, 2], ['reversing', 3, 2], ['reversal_queued', 4, 2], ['reversed', 5, 2],
  ['cancelled', 1, 3], ['declined', 5, 3],
];

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function fill(id, items) {
  $(id).replaceChildren(...items);
}

async function call(path, body, type = 'application/json') {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': type }, body: type === 'application/json' ? JSON.stringify(body ?? {}) : body });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status}`);
  return json;
}

function note(text, bad = false) {
  const n = $('scan-result');
  n.textContent = text;
  n.className = bad ? 'note bad' : 'note';
}

/** A POS mistake (bad amount, refused cancel) is shown on the POS, where the cashier looks. */
function posError(text) {
  $('pos-error').textContent = text;
  $('pos-error').hidden = !text;
}

/** Runs a click's action; its error is shown where `report` puts it (the phone's note by default). */
function guard(fn, report = (message) => note(message, true)) {
  return async (ev) => {
    ev?.preventDefault();
    try {
      await fn();
    } catch (e) {
      report(e.message);
    }
  };
}
const posGuard = (fn) => guard(async () => { posError(''); await fn(); }, posError);

/** The phone forgets a code once it was scanned: a used code cannot pay again, so it is not offered again. */
function phoneUsed(why) {
  phoneImage = null;
  $('qr').hidden = true;
  $('qr').removeAttribute('src');
  $('code-text').textContent = `${why}: tap "Show payment code" for a new one`;
  $('present').disabled = true;
}

function renderPos(s) {
  const p = s.payment;
  const status = $('pos-status');
  status.textContent = p ? p.status : 'no payment';
  status.className = `status ${p?.result ?? (p ? 'busy' : '')}`;
  status.dataset.state = p?.state ?? '';
  status.dataset.result = p?.result ?? '';
  fill('pos-detail', p ? [['id', p.id], ['amount', `${money(p.amount)} ${p.currency}`], ['state', p.state], ['wallet', p.wallet ?? '—'], ['code', p.code ?? '—'], ['order', p.orderNo ?? '—']].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]) : []);
  fill('recent', s.recent.map((r) => el('li', {}, `${time(r.createdAt)} ${money(r.amount)} — ${r.status}`)));
  $('cancel').disabled = !p || p.result !== null;
  $('refund').disabled = !p || p.result !== 'paid' || p.refundedAmount >= p.amount;
}

function renderAgent(s) {
  const current = s.payment?.state;
  const seen = new Set(s.journal.map((j) => j.state));
  fill('diagram', DIAGRAM.map(([state, col, row]) => {
    const cls = ['node', state === current ? 'current' : seen.has(state) ? 'seen' : '', ['paid', 'declined', 'reversed', 'cancelled'].includes(state) ? 'final' : ''].join(' ');
    return el('div', { class: cls, style: `grid-column:${col};grid-row:${row}`, 'data-state': state }, state.replace('_', ' '));
  }));
  $('restart').disabled = !s.agent.up || restarting;
  $('scanners').textContent = s.agent.up ? `agent up at ${s.agent.apiUrl} · scanners: ${s.agent.scanners.map((x) => `${x.source} ${x.status}`).join(', ') || 'none'}` : 'agent restarting…';
  // Newest first: the entry that explains the current state is the one to read.
  fill('journal', s.journal.slice().reverse().map((j) => el('li', {}, `${time(j.at)} ${j.state}: ${j.cause}`)));
  const item = (o) => el('li', {}, `#${o.id} ${o.kind} ${o.orderNo ?? ''} · attempts ${o.attempts} · next ${time(o.nextAttemptAt)}${o.lastError ? ` · ${o.lastError}` : ''}`);
  fill('outbox', s.outbox.pending.map(item));
  fill('dead', s.outbox.dead.map(item));
  $('outbox-count').textContent = String(s.outbox.pending.length);
  $('outbox-count').className = s.outbox.pending.length ? 'pill warn' : 'pill';
  $('dead-count').textContent = String(s.outbox.dead.length);
  $('dead-count').className = s.outbox.dead.length ? 'pill bad' : 'pill';
}

/** Toggles whose change is on its way to the server: a state pushed meanwhile is older than the click. */
const inFlight = new Set();

function toggle(id, send) {
  $(id).addEventListener('change', async () => {
    inFlight.add(id);
    try {
      await send($(id).checked);
    } catch (e) {
      note(e.message, true);
    } finally {
      inFlight.delete(id);
    }
  });
}

const none = (text) => [el('li', { class: 'empty' }, text)];

const PROTOCOL_NAMES = { 'scanpay-v1': 'scanpay protocol v1', 'wechat-v2': 'WeChat Pay v2 (micropay, XML)', 'wechat-v3': 'WeChat Pay v3 (codepay, JSON)', alipay: 'Alipay (trade.pay bar_code)', upay: 'Shouqianba Upay v2' };
/** The wallet whose codes an acquirer takes, where it takes one only. */
const PROTOCOL_WALLET = { 'wechat-v2': 'wechat', 'wechat-v3': 'wechat', alipay: 'alipay' };

function renderProtocol(s) {
  const sel = $('protocol');
  if (sel.options.length !== s.protocol.available.length) {
    sel.replaceChildren(...s.protocol.available.map((p) => el('option', { value: p }, PROTOCOL_NAMES[p] ?? p)));
  }
  if (!inFlight.has('protocol')) sel.value = s.protocol.current;
  sel.disabled = s.protocol.switching || inFlight.has('protocol');
}

function renderNet(s) {
  renderProtocol(s);
  if (!inFlight.has('offline')) $('offline').checked = s.network.down;
  if (!inFlight.has('backend-down')) $('backend-down').checked = !s.backend.up;
  if (document.activeElement !== $('latency')) $('latency').value = String(s.network.delayMs);
  const active = s.backend.faults.map((f) => el('li', {}, `${f.kind} on ${f.op}${f.rate !== undefined ? ` rate ${f.rate}` : ''}${f.remaining !== undefined ? ` · ${f.remaining} left` : ''} · hit ${f.hits}`));
  fill('faults', active.length ? active : none('none'));
  const fired = (s.backend.fired ?? []).slice().reverse().map((f) => el('li', {}, `${time(f.at)} ${f.fault} → ${f.op}${f.orderNo ? ` ${f.orderNo}` : ''}`));
  fill('fired', fired.length ? fired : none('none yet'));
}

function renderLedger(s) {
  const { audit, alarms, entries } = s.ledger;
  const alarmIds = new Set(alarms.map((a) => a.orderNo));
  fill('entries', entries.slice().reverse().map((e) => el('tr', { class: `${e.kind}${alarmIds.has(e.orderNo) ? ' alarm-row' : ''}` }, el('td', {}, String(e.seq)), el('td', {}, e.kind), el('td', { class: 'mono' }, e.orderNo), el('td', {}, `${e.kind === 'charge' ? '+' : '−'}${money(e.amount)}`))));
  $('audit').textContent = `${audit.orders} orders · charged ${money(audit.charged)} · net ${money(audit.netCharged)} · double charges ${audit.doubleCharges.length}`;
  const alarm = $('alarm');
  alarm.classList.toggle('hidden', alarms.length === 0);
  alarm.replaceChildren(...(alarms.length ? [el('strong', {}, `⚠ ${alarms.length} LEDGER ALARM${alarms.length > 1 ? 'S' : ''}`), ...alarms.map((a) => el('div', {}, `${a.kind.toUpperCase()} ${a.orderNo}: ${a.message}`))] : []));
  document.body.classList.toggle('alarmed', alarms.length > 0);
  const paying = s.payment && s.payment.result === null;
  const queued = s.outbox.pending.length;
  const settled = queued === 0 && !paying;
  // Says what is still moving money, so it does not read like the end-of-day settlement.
  const open = paying ? 'payment under way' : `${queued} queued call${queued > 1 ? 's' : ''} not yet delivered`;
  const b = $('balance');
  b.textContent = alarms.length ? 'ledger NOT balanced' : settled ? 'ledger balanced' : `ledger not final: ${open}`;
  b.className = `balance ${alarms.length ? 'bad' : settled ? 'good' : 'busy'}`;
}

function render(s) {
  snap = s;
  renderPos(s);
  renderAgent(s);
  renderNet(s);
  renderLedger(s);
}

function connect() {
  const es = new EventSource('/events');
  es.addEventListener('snapshot', (ev) => render(JSON.parse(ev.data)));
  es.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'pill good'; };
  es.onerror = () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'pill warn'; };
}

async function scanImage(blob, name) {
  const r = await call('/api/phone/image', blob, blob.type || 'application/octet-stream');
  note(`scanner read ${r.text}: ${r.result}`, r.result !== 'accepted');
}

$('pay-form').addEventListener('submit', posGuard(async () => {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec($('amount').value.trim());
  if (!m) throw new Error('amount: digits with at most two decimals, e.g. 12.34');
  await call('/api/pos/pay', { amount: Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) });
}));
$('cancel').addEventListener('click', posGuard(() => call('/api/pos/cancel', { id: snap.payment.id })));
$('refund').addEventListener('click', posGuard(() => call('/api/pos/refund', { id: snap.payment.id })));
$('behaviour').addEventListener('change', () => { $('seconds-label').hidden = $('behaviour').value !== 'password'; });
$('new-code').addEventListener('click', guard(async () => {
  const kind = $('behaviour').value;
  const behaviour = kind === 'password' ? { kind, seconds: Number($('seconds').value) } : { kind };
  const r = await call('/api/phone/code', { wallet: $('wallet').value, behaviour });
  phoneImage = r.image;
  $('qr').src = r.image;
  $('qr').hidden = false;
  $('code-text').textContent = r.code;
  $('present').disabled = false;
  note('code shown on the phone');
}));
$('present').addEventListener('click', guard(async () => {
  await scanImage(await (await fetch(phoneImage)).blob(), 'phone-screen.png');
  phoneUsed('code scanned');
}));
$('type-form').addEventListener('submit', guard(async () => {
  const r = await call('/api/phone/type', { text: $('typed').value.trim() });
  note(`scanned text: ${r.result}`, r.result !== 'accepted');
}));
$('file').addEventListener('change', guard(async () => { const f = $('file').files[0]; if (f) await scanImage(f, f.name); }));
$('drop').addEventListener('dragover', (ev) => ev.preventDefault());
$('drop').addEventListener('drop', guard(async (ev) => { const f = ev.dataTransfer.files[0]; if (f) await scanImage(f, f.name); }));
toggle('offline', (down) => call('/api/network', { down }));
$('latency').addEventListener('change', guard(() => call('/api/network', { delayMs: Number($('latency').value) })));
toggle('backend-down', (stopped) => call('/api/backend', { up: !stopped }));
$('add-fault').addEventListener('click', guard(() => {
  const rate = Number($('fault-rate').value);
  const count = Number($('fault-count').value);
  return call('/api/faults', { kind: $('fault-kind').value, op: $('fault-op').value, ...(rate < 1 ? { rate } : {}), ...(count > 0 ? { count } : {}) });
}));
$('clear-faults').addEventListener('click', guard(() => call('/api/faults/clear')));
$('protocol').addEventListener('change', async () => {
  const next = $('protocol').value;
  const n = $('protocol-note');
  inFlight.add('protocol');
  $('protocol').disabled = true;
  n.textContent = `switching to ${next}: the acquirer restarts speaking it, then a fresh agent set up for it…`;
  n.className = 'note';
  try {
    await call('/api/protocol', { protocol: next });
    if (PROTOCOL_WALLET[next]) $('wallet').value = PROTOCOL_WALLET[next];
    phoneUsed('acquirer switched');
    n.textContent = `acquirer and agent now speak ${next}`;
  } catch (e) {
    n.textContent = `switch refused: ${e.message}`;
    n.className = 'note bad';
  } finally {
    inFlight.delete('protocol');
    if (snap) renderProtocol(snap);
  }
});
let restarting = false;
$('restart').addEventListener('click', async () => {
  const n = $('agent-note');
  restarting = true;
  $('restart').disabled = true;
  n.textContent = 'restarting the agent: stopping it cleanly, then starting it on the same journal…';
  n.className = 'note';
  const t0 = Date.now();
  try {
    await call('/api/agent/restart');
    n.textContent = `agent restarted at ${time(Date.now())} (${((Date.now() - t0) / 1000).toFixed(1)} s): it resumed whatever was unfinished from the journal`;
  } catch (e) {
    n.textContent = `restart failed: ${e.message}`;
    n.className = 'note bad';
  } finally {
    restarting = false;
    if (snap) renderAgent(snap);
  }
});
$('seconds-label').hidden = true;
connect();
