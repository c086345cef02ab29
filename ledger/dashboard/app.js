// fwchain ledger dashboard: a small single-page app over this node's JSON API
// (docs/protocol.md "Ledger node HTTP API" and "Dashboard endpoints").
//
// Everything shown comes from the ledger, and much of it is written by parties we do not trust
// (device reports, block messages, product names, search terms typed into the URL). So the DOM
// is built with createElement and textContent only: no innerHTML, no string-built markup, no
// inline handlers. The server's Content-Security-Policy enforces it (script-src 'self', Trusted
// Types required for every HTML sink).
'use strict';

(function () {
  const REFRESH_MS = 5000;
  const UPDATE_STATES = ['installed', 'failed', 'rolled-back', 'downloading', 'up-to-date'];
  const TX_TYPES = ['update', 'release', 'admit', 'revoke', 'approve', 'status', 'root'];
  const COLORS = ['#2b6cb0', '#2f855a', '#c05621', '#6b46c1', '#b83280', '#2c7a7b', '#975a16',
                  '#4a5568'];
  const STATE_COLORS = { installed: '#2f855a', failed: '#c53030', 'rolled-back': '#dd6b20',
                         downloading: '#3182ce', 'up-to-date': '#a0aec0' };
  const RANGES = {  // activity chart ranges: bucket seconds x bucket count
    '1h': { bucket: 60, count: 60, label: 'last hour, per minute' },
    '1d': { bucket: 3600, count: 24, label: 'last day, per hour' },
    '7d': { bucket: 6 * 3600, count: 28, label: 'last 7 days, per 6 hours' },
    '30d': { bucket: 86400, count: 30, label: 'last 30 days, per day' },
  };

  // ---------------------------------------------------------------- DOM helpers (text only)

  // el('td', {class: 'num', dataset: {id: x}}, child...) where a child is a Node, a string
  // (becomes a text node), a number, null (skipped) or an array of those.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === 'text') node.textContent = String(v);
      else if (k in node && typeof v !== 'string') node[k] = v;
      else node.setAttribute(k, String(v));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(node, c);
      else if (c instanceof Node) node.appendChild(c);
      else node.appendChild(document.createTextNode(String(c)));
    }
  }

  function link(hash, text, attrs) {
    return el('a', Object.assign({ href: hash }, attrs || {}), text);
  }

  // A route fragment with its parameters URL-encoded, e.g. route('device', id).
  function route(name, arg, params) {
    let h = '#/' + name;
    if (arg !== undefined && arg !== null) h += '/' + encodeURIComponent(arg);
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== '' && v != null) q.set(k, v);
    const qs = q.toString();
    return qs ? h + '?' + qs : h;
  }

  function short(hex, n) {
    if (typeof hex !== 'string') return '';
    n = n || 12;
    return hex.length > n ? hex.slice(0, n) + '…' : hex;
  }

  function fmtTime(t) {
    if (typeof t !== 'number') return '';
    const d = new Date(t * 1000);
    return isNaN(d) ? String(t) : d.toISOString().replace('T', ' ').replace('.000Z', 'Z');
  }

  // A class name safe to derive from ledger data: only [a-z0-9-] survive.
  function stateClass(s) {
    return 'state state-' + String(s || '').toLowerCase().replace(/[^a-z0-9-]/g, '');
  }

  function badge(s) {
    return el('span', { class: stateClass(s) }, String(s || '—'));
  }

  function table(headers, rows, attrs) {
    return el('table', attrs || {},
      el('thead', {}, el('tr', {}, headers.map((h) =>
        el('th', { class: /^(height|blocks|txs|devices|count|confirmations|#|bits)$/i.test(h)
          ? 'num' : null }, h)))),
      el('tbody', {}, rows));
  }

  function kv(pairs) {
    return el('dl', { class: 'kv' }, pairs.filter((p) => p).map(([k, v]) =>
      [el('dt', {}, k), el('dd', {}, v)]));
  }

  // Versions sorted as semantic versions where they parse, as text otherwise.
  function compareVersions(a, b) {
    const pa = String(a).split(/[.+-]/);
    const pb = String(b).split(/[.+-]/);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const x = pa[i] === undefined ? '' : pa[i];
      const y = pb[i] === undefined ? '' : pb[i];
      const nx = /^\d+$/.test(x) ? Number(x) : NaN;
      const ny = /^\d+$/.test(y) ? Number(y) : NaN;
      if (!isNaN(nx) && !isNaN(ny)) { if (nx !== ny) return nx - ny; continue; }
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, reason, message) {
      super(message || reason || ('HTTP ' + status));
      this.status = status;
      this.reason = reason;
    }
  }

  async function api(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== '' && v !== null && v !== undefined) q.set(k, String(v));
    }
    const url = q.toString() ? path + '?' + q : path;
    const res = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      throw new ApiError(res.status, body && body.error, body && body.message);
    }
    return body;
  }

  // ---------------------------------------------------------------- charts

  // Charts are created once their canvas is in the document; views push specs here.
  const charts = [];

  function chartBox(name, spec, tall) {
    const canvas = el('canvas', { dataset: { chart: name } });
    spec.canvas = canvas;
    pendingCharts.push(spec);
    return el('div', { class: tall ? 'chart tall' : 'chart' }, canvas);
  }
  let pendingCharts = [];

  function drawPendingCharts() {
    for (const spec of pendingCharts) {
      if (typeof window.Chart !== 'function') {
        spec.canvas.replaceWith(el('p', { class: 'muted' }, 'Chart.js did not load.'));
        continue;
      }
      const chart = new window.Chart(spec.canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets: spec.datasets },
        options: Object.assign({
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          plugins: { legend: { display: spec.datasets.length > 1 || spec.type === 'doughnut' } },
        }, spec.options || {}),
      });
      Object.assign(spec.canvas.dataset, spec.meta || {});
      // For tests and scripts: how many bars or points each dataset holds.
      spec.canvas.dataset.points = String(spec.labels.length);
      spec.canvas.dataset.total = String(spec.datasets.reduce(
        (n, d) => n + d.data.reduce((a, b) => a + (Number(b) || 0), 0), 0));
      charts.push(chart);
    }
    pendingCharts = [];
  }

  function destroyCharts() {
    while (charts.length) charts.pop().destroy();
  }

  const stacked = { scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkipPadding: 16 } },
                              y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } };
  const countAxis = { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };

  // ---------------------------------------------------------------- views

  // Fleet overview: products, version distribution per product, updates and failures over time.
  async function viewFleet(params) {
    const rangeKey = RANGES[params.get('range')] ? params.get('range') : '1h';
    const range = RANGES[rangeKey];
    const now = Math.floor(Date.now() / 1000);
    const until = (Math.floor(now / range.bucket) + 1) * range.bucket;
    const since = until - range.count * range.bucket;
    const [products, activity] = await Promise.all([
      api('/v1/products'),
      api('/v1/activity', { since: since, until: until, bucket: range.bucket }),
    ]);
    const statuses = await Promise.all(products.products.map((p) =>
      api('/v1/status', { product: p.product, limit: 0 })));

    const installed = statuses.reduce((n, s) => n + s.devices, 0);
    const admitted = products.products.reduce((n, p) => n + p.devices, 0);
    const failures = statuses.reduce((n, s) =>
      n + Object.values(s.failures).reduce((a, b) => a + b, 0), 0);
    const out = [
      el('h2', {}, 'Fleet overview'),
      el('div', { class: 'cards' },
        card(products.products.length, 'products'),
        card(admitted, 'admitted devices'),
        card(installed, 'devices with an installed release'),
        card(failures, 'failed or rolled-back reports')),
    ];

    // Updates and failures over time.
    const labels = activity.buckets.map((b) => fmtTime(b.start).slice(range.bucket >= 86400 ? 0 : 5,
      range.bucket >= 86400 ? 10 : 16));
    const shownStates = ['installed', 'failed', 'rolled-back'];
    const rangeNav = el('span', { class: 'muted' }, Object.keys(RANGES).map((k) => [
      k === rangeKey ? el('strong', {}, k) : link(route('', null, { range: k }), k), ' ']));
    out.push(el('div', { class: 'panel' },
      el('h3', {}, 'Updates and failures over time ', el('span', { class: 'muted' },
        '(' + range.label + ') '), rangeNav),
      chartBox('activity', {
        type: 'bar', labels: labels, options: stacked,
        meta: { since: String(activity.since), until: String(activity.until),
                bucket: String(activity.bucket) },
        datasets: shownStates.map((s) => ({
          label: s, backgroundColor: STATE_COLORS[s],
          data: activity.buckets.map((b) => b.counts[s] || 0),
        })),
      }, true)));

    // Version distribution per product.
    const grid = el('div', { class: 'grid' });
    products.products.forEach((p, i) => {
      const st = statuses[i];
      const versions = Object.keys(st.versions).sort(compareVersions);
      const rows = versions.map((v) => el('tr', { dataset: { version: v } },
        el('td', {}, link(route('search', null, { product: p.product, ver: v, type: 'update',
                                                  state: 'installed' }), v)),
        el('td', { class: 'num' }, st.versions[v]),
        el('td', { class: 'num' }, st.failures[v] || 0)));
      grid.appendChild(el('div', { class: 'panel', dataset: { product: p.product } },
        el('h3', {}, 'Product ', el('span', { class: 'mono' }, p.product)),
        el('p', { class: 'muted' },
          p.devices + ' admitted devices · ' + st.devices + ' installed · latest release ',
          p.latest ? el('strong', {}, p.latest.version) : 'none', ' · ',
          link(route('releases', null, { product: p.product }), 'rollouts')),
        versions.length
          ? chartBox('versions-' + p.product, {
            type: 'bar', labels: versions, options: countAxis,
            datasets: [{ label: 'devices', data: versions.map((v) => st.versions[v]),
                         backgroundColor: versions.map((_, j) => COLORS[j % COLORS.length]) }],
          })
          : el('p', { class: 'muted' }, 'No installed reports yet.'),
        versions.length ? table(['version', 'devices', 'failures'], rows) : null));
    });
    if (!products.products.length) grid.appendChild(el('p', { class: 'muted' }, 'No products yet.'));
    out.push(grid);
    return out;
  }

  function card(n, label) {
    return el('div', { class: 'card' }, el('div', { class: 'n' }, String(n)),
      el('div', { class: 'l' }, label));
  }

  function toEpoch(local) {
    if (!local) return '';
    const t = Date.parse(local + (local.length <= 16 ? ':00' : '') + 'Z');
    return isNaN(t) ? '' : String(Math.floor(t / 1000));
  }

  function fromEpoch(s) {
    if (!/^\d+$/.test(s || '')) return '';
    return new Date(Number(s) * 1000).toISOString().slice(0, 16);
  }

  // Search by device, product, version, state, type and time range (times in UTC).
  async function viewSearch(params) {
    const fields = ['device', 'product', 'ver', 'state', 'type', 'since', 'until'];
    const query = {};
    for (const f of fields) query[f] = params.get(f) || '';
    const products = await api('/v1/products');
    const select = (name, values) => el('select', { name: name },
      el('option', { value: '' }, 'any'),
      values.map((v) => el('option', { value: v, selected: v === query[name] }, v)));
    const input = (name, attrs) => el('input', Object.assign({ name: name, value: query[name] },
      attrs || {}));
    const form = el('form', { class: 'search panel', id: 'search-form', on: { submit: (ev) => {
      ev.preventDefault();
      const data = new FormData(ev.target);
      const next = {};
      for (const f of fields) next[f] = String(data.get(f) || '').trim();
      next.since = toEpoch(next.since);
      next.until = toEpoch(next.until);
      location.hash = route('search', null, next);
    } } },
    el('label', {}, 'device', input('device', { placeholder: 'device id' })),
    el('label', {}, 'product', select('product', products.products.map((p) => p.product))),
    el('label', {}, 'version', input('ver', { placeholder: 'e.g. 1.1.0' })),
    el('label', {}, 'state', select('state', UPDATE_STATES)),
    el('label', {}, 'type', select('type', TX_TYPES)),
    el('label', {}, 'since (UTC)', el('input', { name: 'since', type: 'datetime-local',
                                                 value: fromEpoch(query.since) })),
    el('label', {}, 'until (UTC)', el('input', { name: 'until', type: 'datetime-local',
                                                 value: fromEpoch(query.until) })),
    el('button', { type: 'submit' }, 'Search'));

    const asked = Object.entries(query).filter(([, v]) => v);
    const out = [el('h2', {}, 'Search'), form];
    const page = await api('/v1/search', Object.assign({}, query, {
      limit: 50, cursor: params.get('cursor') || '' }));
    const summary = asked.length
      ? asked.map(([k, v]) => k + ' = “' + v + '”').join(', ')
      : 'everything';
    out.push(el('p', { id: 'search-summary' },
      page.results.length ? page.results.length + (page.next_cursor ? '+' : '') +
        ' transactions for ' : 'No transactions match ',
      el('span', { class: 'query' }, summary), '.'));
    if (page.results.length) out.push(txTable(page.results, 'search-results'));
    if (page.next_cursor) {
      const next = Object.assign({}, query, { cursor: page.next_cursor });
      out.push(el('div', { class: 'pager' }, link(route('search', null, next), 'older →')));
    }
    return out;
  }

  function txRecipient(tx) {
    if ((tx.type === 'update' || tx.type === 'status') && tx.recipient) {
      return link(route('device', tx.recipient), tx.recipient, { class: 'mono' });
    }
    if (tx.type === 'approve') return link(route('tx', tx.recipient), short(tx.recipient));
    return el('span', { class: 'mono' }, tx.recipient);
  }

  // Search results (newest first) as a table; rows carry the tx id for scripts.
  function txTable(results, id) {
    const rows = results.map((r) => {
      const tx = r.tx || {};
      const body = tx.body || {};
      return el('tr', { dataset: { txid: r.id } },
        el('td', { class: 'nowrap' }, fmtTime(tx.time)),
        el('td', {}, tx.type),
        el('td', {}, txRecipient(tx)),
        el('td', { class: 'mono' }, typeof body.product === 'string' ? body.product
          : (tx.type === 'release' ? tx.recipient : '')),
        el('td', { class: 'mono' }, tx.ver),
        el('td', {}, tx.state ? badge(tx.state) : ''),
        el('td', { class: 'reason' }, typeof body.reason === 'string' ? body.reason : ''),
        el('td', { class: 'num' }, link(route('block', r.block_hash), String(r.height))),
        el('td', { class: 'mono' }, link(route('tx', r.id), short(r.id))));
    });
    return table(['time', 'type', 'device / recipient', 'product', 'version', 'state', 'reason',
                  'height', 'tx'], rows, { id: id });
  }

  // A gateway as a report names it: a key id is shortened (full text on hover), a name kept.
  function gatewayName(g) {
    if (typeof g !== 'string') return '';
    return /^[0-9a-f]{64}$/.test(g) ? el('span', { title: g }, short(g, 16)) : g;
  }

  // One device's history: every update/status report, newest first.
  async function viewDevice(params, id) {
    const results = [];
    let cursor = '';
    do {  // at most 5 pages of 1000: a device reports a few times per update
      const page = await api('/v1/search', { device: id, limit: 1000, cursor: cursor });
      results.push(...page.results);
      cursor = page.next_cursor || '';
    } while (cursor && results.length < 5000);
    const installed = results.find((r) => r.tx && r.tx.type === 'update' &&
                                          r.tx.state === 'installed');
    const products = [...new Set(results.map((r) => r.tx && r.tx.body && r.tx.body.product)
      .filter((p) => typeof p === 'string'))];
    const out = [el('h2', {}, 'Device ', el('span', { class: 'mono', id: 'device-id' }, id))];
    if (!results.length) {
      out.push(el('p', {}, 'The ledger holds no reports of device ', el('span', { class: 'mono' }, id),
        '.'));
      return out;
    }
    out.push(el('div', { class: 'panel' }, kv([
      ['product', products.join(', ')],
      ['installed', installed ? el('strong', {}, installed.tx.ver) : 'nothing yet'],
      ['since', installed ? fmtTime(installed.tx.time) : ''],
      ['reports', String(results.length)],
      ['last report', fmtTime(results[0].tx.time) + ' (' + results[0].tx.state + ')'],
    ])));
    const rows = results.map((r) => {
      const tx = r.tx || {};
      const body = tx.body || {};
      const rejected = body.rejected && typeof body.rejected === 'object'
        ? ' rejected ' + body.rejected.version + ' #' + body.rejected.sequence : '';
      return el('tr', { dataset: { txid: r.id } },
        el('td', { class: 'nowrap' }, fmtTime(tx.time)),
        el('td', {}, badge(tx.state || tx.type)),
        el('td', { class: 'mono' }, tx.ver),
        el('td', { class: 'num' }, body.sequence === undefined ? '' : String(body.sequence)),
        el('td', { class: 'num' }, body.previous_sequence === undefined ? ''
          : String(body.previous_sequence)),
        el('td', { class: 'mono' }, gatewayName(body.gateway)),
        el('td', { class: 'reason' }, (typeof body.reason === 'string' ? body.reason : '') + rejected),
        el('td', { class: 'num' }, link(route('block', r.block_hash), String(r.height))),
        el('td', { class: 'mono' }, link(route('tx', r.id), short(r.id))));
    });
    out.push(el('h3', {}, 'History'),
      table(['time', 'state', 'version', 'sequence', 'from', 'gateway', 'reason', 'height', 'tx'],
        rows, { id: 'device-history' }));
    return out;
  }

  // Rollout progress and approvals of each release of a product.
  async function viewReleases(params) {
    const products = await api('/v1/products');
    const names = products.products.map((p) => p.product);
    const product = params.get('product') || names.find((n) =>
      products.products.find((p) => p.product === n && p.releases > 0)) || names[0] || '';
    const out = [el('h2', {}, 'Releases and rollouts'),
      el('p', {}, 'Product: ', names.length ? names.map((n) => [n === product
        ? el('strong', { class: 'mono' }, n) : link(route('releases', null, { product: n }), n,
          { class: 'mono' }), ' ']) : el('span', { class: 'muted' }, 'none yet'))];
    if (!product) return out;
    const data = await api('/v1/releases', { product: product });
    if (!data.releases.length) {
      out.push(el('p', { class: 'muted' }, 'No releases of this product.'));
      return out;
    }
    const shownStates = ['installed', 'failed', 'rolled-back', 'downloading'];
    const ordered = data.releases.slice().reverse();  // oldest first on the chart
    out.push(el('div', { class: 'panel' }, el('h3', {}, 'Update outcomes per release (devices)'),
      chartBox('release-outcomes', {
        type: 'bar', labels: ordered.map((r) => r.version), options: stacked,
        datasets: shownStates.map((s) => ({ label: s, backgroundColor: STATE_COLORS[s],
          data: ordered.map((r) => (r.outcomes && r.outcomes[s]) || 0) })),
      })));
    const list = el('div', { class: 'panel', id: 'release-list' });
    for (const r of data.releases) list.appendChild(releaseEntry(product, r));
    out.push(list);
    return out;
  }

  // One release; `stage`, `approvals`, `state` and `reason` are optional (rollout control).
  function releaseEntry(product, r) {
    const outcomes = r.outcomes || {};
    const parts = [];
    const stage = r.stage && typeof r.stage === 'object' ? r.stage : null;
    if (stage) {
      const pct = Number(stage.percent);
      const stages = Array.isArray(stage.stages) ? stage.stages.map(String).join(' → ') : '';
      parts.push(['stage', el('span', { class: 'stage' },
        'stage ' + (Number(stage.index) + 1) + (Array.isArray(stage.stages)
          ? ' of ' + stage.stages.length : '') + ' · ' + (isNaN(pct) ? '?' : pct) + '% ',
        el('progress', { max: 100, value: isNaN(pct) ? 0 : pct }),
        stages ? el('span', { class: 'muted' }, ' (' + stages + ' %)') : null)]);
    }
    const approvals = r.approvals && typeof r.approvals === 'object' ? r.approvals : null;
    if (approvals) {
      const have = Number(approvals.have) || 0;
      const need = Number(approvals.need) || 0;
      parts.push(['approvals', el('span', { class: 'approvals' }, have + ' of ' + need + ' ',
        el('meter', { min: 0, max: Math.max(need, 1), value: have, low: Math.max(need, 1) - 0.5,
                      optimum: Math.max(need, 1) }))]);
    }
    if (typeof r.reason === 'string' && r.reason) {
      parts.push(['reason', el('span', { class: 'reason' }, r.reason)]);
    }
    return el('div', { class: 'release', dataset: { sequence: String(r.sequence),
                                                    version: String(r.version) } },
      el('div', { class: 'head' },
        el('span', { class: 'version mono' }, r.version),
        el('span', { class: 'muted' }, 'sequence ' + r.sequence),
        typeof r.state === 'string' ? badge(r.state) : null,
        el('span', { class: 'muted' }, 'height ', link(route('block', r.block_hash),
          String(r.height)), ' · ' + r.confirmations + ' confirmations · ' + fmtTime(r.time)),
        link(route('tx', r.id), 'release tx ' + short(r.id))),
      kv([
        ['outcomes', el('span', { class: 'outcomes' }, Object.keys(outcomes).length
          ? Object.keys(outcomes).sort().map((s) => [link(route('search', null,
            { product: product, ver: r.version, state: s, type: 'update' }), s), ' ' + outcomes[s] + '  '])
          : 'no reports yet')],
      ].concat(parts)));
  }

  // Chain explorer: recent blocks and who mined them.
  async function viewExplorer(params) {
    const before = /^\d+$/.test(params.get('before') || '') ? params.get('before') : '';
    const [blocks, miners, peers] = await Promise.all([
      api('/v1/chain/blocks', { before: before, count: 20 }),
      api('/v1/chain/miners', { window: 100 }),
      api('/v1/peers'),
    ]);
    const rows = blocks.blocks.map((b) => el('tr', { dataset: { height: String(b.height) } },
      el('td', { class: 'num' }, link(route('block', b.hash), String(b.height))),
      el('td', { class: 'mono' }, link(route('block', b.hash), short(b.hash, 16))),
      el('td', {}, fmtTime(b.time)),
      el('td', { class: 'num' }, String(b.txs)),
      el('td', {}, minerName(b)),
      el('td', { class: 'num' }, String(b.bits))));
    const out = [el('h2', {}, 'Chain explorer'),
      el('div', { class: 'cards' }, card(blocks.tip, 'tip height'),
        card(miners.miners.length, 'miners in the last ' + miners.window + ' blocks'),
        card(peers.peers.length, 'peers'))];
    const pager = el('div', { class: 'pager' });
    if (before) pager.appendChild(link(route('explorer'), '← newest'));
    if (blocks.next_before !== null) {
      pager.appendChild(link(route('explorer', null, { before: blocks.next_before }), 'older →'));
    }
    out.push(el('div', { class: 'panel' }, el('h3', {}, 'Blocks'),
      table(['height', 'hash', 'time', 'txs', 'miner', 'bits'], rows, { id: 'blocks' }), pager));
    const mrows = miners.miners.map((m) => el('tr', {},
      el('td', { class: 'mono' }, m.id), el('td', {}, m.subject || ''), el('td', {}, m.role || 'unknown'),
      el('td', { class: 'num' }, String(m.blocks)),
      el('td', { class: 'num' }, String(m.last_height)),
      el('td', {}, m.revoked ? el('span', { class: 'bad' }, 'revoked') : '')));
    out.push(el('div', { class: 'grid' },
      el('div', { class: 'panel' }, el('h3', {}, 'Miners (blocks ' + miners.from + '–' + miners.to + ')'),
        table(['key id', 'name', 'role', 'blocks', 'last height', ''], mrows, { id: 'miners' })),
      el('div', { class: 'panel' }, el('h3', {}, 'Share of blocks'),
        chartBox('miners', { type: 'doughnut',
          labels: miners.miners.map((m) => m.subject || m.id),
          datasets: [{ label: 'blocks', data: miners.miners.map((m) => m.blocks),
                       backgroundColor: miners.miners.map((_, i) => COLORS[i % COLORS.length]) }],
        }))));
    if (peers.peers.length) {
      out.push(el('div', { class: 'panel' }, el('h3', {}, 'Peers'),
        table(['url', 'banned until', 'reason'], peers.peers.map((p) => el('tr', {},
          el('td', { class: 'mono' }, p.url),
          el('td', {}, p.banned_until ? fmtTime(p.banned_until) : ''),
          el('td', {}, p.ban_reason || ''))))));
    }
    return out;
  }

  function minerName(b) {
    return el('span', { title: b.miner }, b.miner_subject ? b.miner_subject + ' ' : '',
      el('span', { class: 'mono muted' }, short(b.miner_id, 10)));
  }

  async function viewBlock(params, hash) {
    const [summary, block] = await Promise.all([
      api('/v1/chain/blocks', { hash: hash }),
      api('/v1/blocks/' + encodeURIComponent(hash)),
    ]);
    const b = summary.blocks[0];
    const ids = Array.isArray(b.tx_ids) ? b.tx_ids : [];
    const txs = Array.isArray(block.txs) ? block.txs : [];
    const rows = txs.map((tx, i) => el('tr', {},
      el('td', { class: 'num' }, String(i)),
      el('td', { class: 'mono' }, ids[i] ? link(route('tx', ids[i]), short(ids[i]),
        { class: 'txid' }) : ''),
      el('td', {}, tx.type),
      el('td', {}, txRecipient(tx)),
      el('td', { class: 'mono' }, tx.ver),
      el('td', {}, tx.state ? badge(tx.state) : ''),
      el('td', {}, fmtTime(tx.time))));
    return [
      el('h2', {}, 'Block ' + b.height),
      el('div', { class: 'panel' }, kv([
        ['hash', el('span', { class: 'mono break' }, b.hash)],
        ['previous', b.height > 0 ? link(route('block', b.prev), b.prev, { class: 'mono break' })
          : 'genesis'],
        ['on the main chain', b.main ? 'yes' : 'no (side branch)'],
        ['time', fmtTime(b.time)],
        ['bits', String(b.bits)],
        ['nonce', String(b.nonce)],
        ['merkle root', el('span', { class: 'mono break' }, b.merkle_root)],
        ['miner', [minerName(b), ' ', el('span', { class: 'mono muted break' }, b.miner)]],
        ['confirmations', b.main ? String(summary.tip - b.height + 1) : '0'],
        ['message', el('span', { class: 'message' }, typeof block.message === 'string'
          ? block.message : '')],
      ])),
      el('h3', {}, txs.length + ' transactions'),
      table(['#', 'id', 'type', 'recipient', 'version', 'state', 'time'], rows, { id: 'block-txs' }),
    ];
  }

  function hexBytes(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function bytesHex(bytes) {
    return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // The Merkle root a proof leads to from the tx id (ledger/primitives/merkle.cpp: SHA-256 of
  // left || right), or null where WebCrypto is unavailable (not a secure context).
  async function rootFromProof(id, proof) {
    if (!window.crypto || !window.crypto.subtle) return null;
    let h = hexBytes(id);
    for (const step of proof) {
      const sib = hexBytes(step.hash);
      const buf = new Uint8Array(64);
      if (step.side === 'l') { buf.set(sib, 0); buf.set(h, 32); } else { buf.set(h, 0); buf.set(sib, 32); }
      h = new Uint8Array(await window.crypto.subtle.digest('SHA-256', buf));
    }
    return bytesHex(h);
  }

  // A tx with its inclusion proof, checked here against the block header's Merkle root.
  async function viewTx(params, id) {
    const t = await api('/v1/tx/' + encodeURIComponent(id));
    const tx = t.tx || {};
    const out = [el('h2', {}, 'Transaction ', el('span', { class: 'mono break' }, t.id))];
    out.push(el('div', { class: 'panel' }, kv([
      ['type', tx.type],
      ['sender', el('span', { class: 'mono break' }, tx.sender)],
      ['recipient', txRecipient(tx)],
      tx.ver ? ['version', el('span', { class: 'mono' }, tx.ver)] : null,
      tx.state ? ['state', badge(tx.state)] : null,
      ['time', fmtTime(tx.time)],
      ['block', t.block_hash ? link(route('block', t.block_hash), 'height ' + t.height + ' · ' +
        short(t.block_hash, 16)) : 'pending (in the mempool)'],
      ['confirmations', String(t.confirmations)],
    ])));
    if (t.block_hash) {
      const proof = Array.isArray(t.proof) ? t.proof : [];
      const summary = await api('/v1/chain/blocks', { hash: t.block_hash });
      const expected = summary.blocks[0].merkle_root;
      const computed = await rootFromProof(t.id, proof);
      const verdict = computed === null
        ? el('span', { class: 'muted', id: 'proof-verdict' },
          'cannot check here: this browser offers no SHA-256 outside a secure context')
        : computed === expected
          ? el('span', { class: 'ok', id: 'proof-verdict', dataset: { verified: 'true' } },
            '✓ the proof leads to the block\'s Merkle root')
          : el('span', { class: 'bad', id: 'proof-verdict', dataset: { verified: 'false' } },
            '✗ the proof does not lead to the block\'s Merkle root');
      out.push(el('div', { class: 'panel' }, el('h3', {}, 'Inclusion proof (' + proof.length +
        (proof.length === 1 ? ' step)' : ' steps)')),
        table(['#', 'sibling side', 'sibling hash'], proof.map((s, i) => el('tr', {},
          el('td', { class: 'num' }, String(i)), el('td', {}, s.side === 'l' ? 'left' : 'right'),
          el('td', { class: 'mono break' }, s.hash))), { id: 'proof' }),
        el('p', {}, kv([['computed root', el('span', { class: 'mono break' }, computed || '—')],
          ['header merkle root', el('span', { class: 'mono break' }, expected)],
          ['result', verdict]]))));
    }
    out.push(el('div', { class: 'panel' }, el('h3', {}, 'Signed body'),
      el('pre', { id: 'tx-json' }, JSON.stringify(tx, null, 2))));
    return out;
  }

  // ---------------------------------------------------------------- router, refresh

  const VIEWS = {
    '': { nav: 'fleet', render: viewFleet },
    search: { nav: 'search', render: viewSearch },
    device: { nav: 'search', render: viewDevice, arg: true },
    releases: { nav: 'releases', render: viewReleases },
    explorer: { nav: 'explorer', render: viewExplorer },
    block: { nav: 'explorer', render: viewBlock, arg: true },
    tx: { nav: 'explorer', render: viewTx, arg: true },
  };

  function parseHash() {
    const h = location.hash.replace(/^#\/?/, '');
    const q = h.indexOf('?');
    const path = q < 0 ? h : h.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
    const slash = path.indexOf('/');
    const name = slash < 0 ? path : path.slice(0, slash);
    let arg = null;
    if (slash >= 0) {
      try { arg = decodeURIComponent(path.slice(slash + 1)); } catch (e) { arg = path.slice(slash + 1); }
    }
    return { name: name, arg: arg, params: params };
  }

  const viewNode = document.getElementById('view');
  let generation = 0;
  let rendering = null;

  function showError(message) {
    const box = document.getElementById('error');
    box.textContent = message || '';
    box.hidden = !message;
  }

  async function render(isRefresh) {
    const loc = parseHash();
    const view = VIEWS[loc.name];
    const mine = ++generation;
    for (const a of document.querySelectorAll('nav a')) {
      a.classList.toggle('active', !!view && a.dataset.nav === view.nav);
    }
    if (!isRefresh) viewNode.dataset.state = 'loading';
    let nodes;
    let failed = false;
    try {
      if (!view || (view.arg && !loc.arg)) {
        nodes = [el('h2', {}, 'Not found'), el('p', {}, 'No page ', el('span', { class: 'mono' },
          location.hash), '. ', link('#/', 'Back to the fleet overview'))];
      } else {
        pendingCharts = [];
        nodes = await view.render(loc.params, loc.arg);
      }
      showError('');
    } catch (e) {
      if (mine !== generation) return;
      if (isRefresh) {  // keep what is shown; say the refresh failed
        showError('Refresh failed: ' + e.message);
        return;
      }
      nodes = [el('h2', {}, 'Error'), el('p', { class: 'bad', id: 'view-error' }, e.message)];
      failed = true;
    }
    if (mine !== generation) return;  // a newer render started meanwhile
    const scroll = window.scrollY;
    destroyCharts();
    viewNode.replaceChildren(...[].concat(nodes));
    drawPendingCharts();
    if (isRefresh) window.scrollTo(0, scroll);
    viewNode.dataset.state = failed ? 'error' : 'ready';
    viewNode.dataset.view = loc.name || 'fleet';
    viewNode.dataset.generation = String(Number(viewNode.dataset.generation || 0) + 1);
    document.getElementById('updated').textContent = 'updated ' +
      new Date().toISOString().slice(11, 19) + 'Z';
  }

  async function refreshTip() {
    try {
      const tip = await api('/v1/tip');
      document.getElementById('tip').replaceChildren('tip ',
        link(route('block', tip.hash), '#' + tip.height), ' · ' + fmtTime(tip.time));
    } catch (e) {
      showError('The node does not answer: ' + e.message);
    }
  }

  function tick() {
    if (!document.getElementById('live').checked || document.hidden) return;
    // Do not rebuild a form the user is typing in.
    const active = document.activeElement;
    if (active && active.matches && active.matches('form input, form select')) return;
    if (rendering) return;
    rendering = Promise.all([refreshTip(), render(true)]).finally(() => { rendering = null; });
  }

  window.addEventListener('hashchange', () => { render(false); });
  refreshTip();
  render(false);
  setInterval(tick, REFRESH_MS);
})();
