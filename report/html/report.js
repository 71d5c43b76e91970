// wirestate HTML report: renders the JSON block #ws-data. Vanilla
// JavaScript, no dependencies, no network access (the page's CSP forbids
// it). Views: overview, states over time, findings, connections, and one
// connection's ladder diagram; the location hash selects the view so that
// links such as report.html#conn=CxYz… can be shared.
(function () {
  'use strict';
  var t0 = performance.now();
  var D = JSON.parse(document.getElementById('ws-data').textContent);
  var C = D.conns, F = D.findings, SN = D.stateNames;
  var NC = C.uid.length, NF = F.kind.length;
  var SEV = ['info', 'warning', 'critical'];
  var STATE_COLORS = {
    CLOSED: '#a0aec0', LISTEN: '#cbd5e0', SYN_SENT: '#90cdf4', SYN_RECEIVED: '#3182ce',
    ESTABLISHED: '#2f9e77', FIN_WAIT_1: '#ecc94b', FIN_WAIT_2: '#ed8936', CLOSING: '#b7791f',
    TIME_WAIT: '#7f8ea3', CLOSE_WAIT: '#e53e3e', LAST_ACK: '#8b5cf6'
  };
  // Stacking order of the states chart, bottom first.
  var STACK = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECEIVED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSING', 'LAST_ACK', 'CLOSE_WAIT', 'TIME_WAIT'];
  var SVGNS = 'http://www.w3.org/2000/svg';

  // ---- indexes -------------------------------------------------------
  var uidIdx = new Map();
  for (var i = 0; i < NC; i++) uidIdx.set(C.uid[i], i);
  var connFindings = new Map();
  for (var f = 0; f < NF; f++) {
    var ci = F.conn[f];
    if (ci >= 0) { var l = connFindings.get(ci); if (!l) connFindings.set(ci, l = []); l.push(f); }
  }

  // ---- helpers -------------------------------------------------------
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'html') e.innerHTML = v;
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (var j = 2; j < arguments.length; j++) add1(e, arguments[j]);
    return e;
  }
  function add1(e, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add1(e, x); }); return; }
    e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  // add appends each argument after the first (nodes, text, arrays of them).
  function add(e) { for (var j = 1; j < arguments.length; j++) add1(e, arguments[j]); }
  function sv(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    if (attrs) for (var k in attrs) {
      if (attrs[k] == null) continue;
      if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    }
    for (var j = 2; j < arguments.length; j++) add1(e, arguments[j]);
    return e;
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; }); }
  function pad(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  // stamp formats a time given in µs relative to D.t0 as a date and time
  // with microseconds (UTC unless the report was made with local time).
  function stamp(rel) {
    var us = D.t0 + rel, sec = Math.floor(us / 1e6), frac = us - sec * 1e6;
    var d = new Date(sec * 1000), L = D.local;
    var s = (L ? d.getFullYear() : d.getUTCFullYear()) + '-' + pad((L ? d.getMonth() : d.getUTCMonth()) + 1, 2) + '-' +
      pad(L ? d.getDate() : d.getUTCDate(), 2) + ' ' + pad(L ? d.getHours() : d.getUTCHours(), 2) + ':' +
      pad(L ? d.getMinutes() : d.getUTCMinutes(), 2) + ':' + pad(L ? d.getSeconds() : d.getUTCSeconds(), 2);
    return s + '.' + pad(frac, 6);
  }
  function clock(rel) { return stamp(rel).slice(11); }
  function dur(us) {
    var a = Math.abs(us);
    if (a < 1000) return us + ' µs';
    if (a < 1e6) return (us / 1000).toFixed(a < 1e4 ? 2 : 1) + ' ms';
    if (a < 120e6) return (us / 1e6).toFixed(a < 1e7 ? 3 : 1) + ' s';
    if (a < 7200e6) return (us / 60e6).toFixed(1) + ' min';
    return (us / 3600e6).toFixed(1) + ' h';
  }
  function relSec(us) { return '+' + (us / 1e6).toFixed(6) + ' s'; }
  function bytes(n) {
    if (n < 1024) return n + ' B';
    var u = ['KiB', 'MiB', 'GiB', 'TiB'], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
    return n.toFixed(1) + ' ' + u[i];
  }
  function addr(i) { return D.addrs[i]; }
  function ep(a, p) { a = D.addrs[a]; return (a.indexOf(':') >= 0 ? '[' + a + ']' : a) + ':' + p; }
  function stName(v) { return SN[v & 15] + (v & 16 ? '?' : ''); }
  function sevBadge(s) { return el('span', { 'class': 'sev sev-' + s, text: SEV[s] }); }
  function kindName(k) { return D.kinds[k] ? D.kinds[k].name : '?'; }
  function hintOf(h) { return h >= 0 ? D.hints[h] : ''; }
  var FLAG_NAMES = [[2, 'SYN'], [1, 'FIN'], [4, 'RST'], [8, 'PSH'], [16, 'ACK'], [32, 'URG'], [64, 'ECE'], [128, 'CWR']];
  function flagText(fl) {
    var out = [];
    FLAG_NAMES.forEach(function (x) { if (fl & x[0]) out.push(x[1]); });
    return out.length ? out.join(', ') : 'no flags';
  }
  function kindNotes(k) {
    var hide = { 'new-data': 1, 'ack-advanced': 1, 'new-conn': 1, 'correction': 1 }, out = [];
    var specific = false;
    for (var b = 0; b < D.pktKinds.length; b++) {
      if (!(k & (1 << b))) continue;
      var n = D.pktKinds[b];
      if (n === 'syn-retransmission' || n === 'synack-retransmission' || n === 'fin-retransmission') specific = true;
      if (!hide[n]) out.push(n);
    }
    if (specific) out = out.filter(function (n) { return n !== 'retransmission'; });
    return out;
  }
  function go(hash) { if (location.hash !== hash) location.hash = hash; else route(); }
  function parseHash() {
    var h = location.hash.replace(/^#/, ''), out = { view: 'overview' };
    if (!h) return out;
    h.split('&').forEach(function (part, i) {
      var eq = part.indexOf('='), k = eq < 0 ? part : part.slice(0, eq), v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
      if (i === 0) { out.view = k; out.arg = v; } else out[k] = v;
    });
    return out;
  }

  // ---- shell ---------------------------------------------------------
  var app = document.getElementById('app');
  app.removeAttribute('data-loading');
  app.textContent = '';
  var navLinks = {};
  function navLink(view, label) { return navLinks[view] = el('a', { href: '#' + view, text: label }); }
  var search = el('input', { type: 'search', placeholder: 'Go to connection UID', 'aria-label': 'connection uid' });
  var header = el('header', { 'class': 'top' },
    el('div', { 'class': 'brand' }, 'wire', el('span', { text: 'state' })),
    el('div', { 'class': 'src', title: D.input.sources.join(', '), text: D.input.sources.join(', ') }),
    el('nav', null, navLink('overview', 'Overview'), navLink('states', 'States over time'),
      navLink('findings', 'Findings (' + num(NF) + ')'), navLink('conns', 'Connections (' + num(NC) + ')')),
    el('form', { onsubmit: function (e) { e.preventDefault(); var v = search.value.trim(); if (v) go('#conn=' + encodeURIComponent(v)); } }, search));
  var main = el('main', { id: 'view' });
  var footer = el('footer', null, 'Generated by ' + D.tool + ' · ' + D.input.sources.join(', ') +
    ' · times in ' + (D.local ? 'local time' : 'UTC') + ' · ? marks a state inferred from assumed delivery');
  add(app, [header, main, footer]);
  var tip = el('div', { 'class': 'tip' });
  document.body.appendChild(tip);

  function route() {
    var h = parseHash();
    for (var k in navLinks) navLinks[k].classList.toggle('on', k === h.view || (k === 'conns' && h.view === 'conn'));
    main.textContent = '';
    tip.style.display = 'none';
    var view = { overview: overview, states: statesView, findings: findingsView, conns: connsView, conn: connView, finding: findingView }[h.view] || overview;
    view(h);
    window.scrollTo(0, 0);
    if (view === connView) scrollToEvidence();
  }
  window.addEventListener('hashchange', route);

  // ---- overview ------------------------------------------------------
  function overview() {
    var I = D.input, T = D.tracker;
    var skipped = I.skipped.map(function (s) { return num(s.n) + ' ' + s.name; }).join(', ') || 'none';
    var capture = el('div', { 'class': 'panel' }, el('h2', { text: 'Capture' }),
      el('dl', { 'class': 'kv' },
        I.sources.map(function (s, i) { return [el('dt', { text: I.sources.length > 1 ? 'file ' + (i + 1) : 'file' }), el('dd', { 'class': 'mono', text: s + (I.formats[i] ? ' — ' + I.formats[i] : '') })]; }),
        el('dt', { text: 'span' }), el('dd', { text: I.packets ? stamp(0) + ' → ' + stamp(I.span) + '  (' + dur(I.span) + ')' : '—' }),
        el('dt', { text: 'packets' }), el('dd', { text: num(I.packets) + ' read · ' + num(I.segments) + ' TCP segments · ' + bytes(I.bytes) }),
        el('dt', { text: 'skipped' }), el('dd', { text: skipped }),
        I.dropped ? [el('dt', { text: 'dropped' }), el('dd', { text: num(I.dropped) + ' by the capture' })] : null,
        I.backwards ? [el('dt', { text: 'clock' }), el('dd', { text: num(I.backwards) + ' timestamps went backwards' })] : null));
    var extra = [];
    if (T.partial) extra.push(num(T.partial) + ' picked up mid-stream');
    if (T.reused) extra.push(num(T.reused) + ' reused 4-tuples');
    if (T.idle) extra.push(num(T.idle) + ' expired idle');
    if (T.evicted) extra.push(num(T.evicted) + ' evicted');
    if (T.badChecksum) extra.push(num(T.badChecksum) + ' bad checksums');
    if (T.folded) extra.push(num(T.folded) + ' possible flood members counted, not listed');
    var conns = el('div', { 'class': 'panel' }, el('h2', { text: 'Connections' }),
      el('div', { 'class': 'big', text: num(T.records) }),
      el('div', { 'class': 'muted', text: extra.join(' · ') || 'all seen from their handshake' }),
      D.limits.connsOmitted ? el('div', { 'class': 'small muted', text: num(D.limits.connsOmitted) + ' connections without findings are not listed in this report' }) : null,
      D.states ? el('div', { 'class': 'small muted', text: num(D.states.allHosts) + ' hosts' }) : null);
    var bySev = [0, 0, 0];
    for (var f = 0; f < NF; f++) bySev[F.sev[f]]++;
    var fpanel = el('div', { 'class': 'panel' }, el('h2', { text: 'Findings' }),
      el('div', { 'class': 'sevcounts' }, [2, 1, 0].map(function (s) {
        return el('div', null, el('div', { 'class': 'big', text: num(bySev[s]) }), sevBadge(s));
      })));
    add(main, el('div', { 'class': 'grid cols3' }, capture, conns, fpanel));

    var kinds = el('div', { 'class': 'panel', style: 'margin-top:16px' }, el('h2', { text: 'Findings by kind, most severe first' }));
    if (!D.kinds.length) add(kinds, el('p', { 'class': 'muted', text: 'No findings: every connection closed the way TCP intends, as far as this capture shows.' }));
    else add(kinds, el('table', { 'class': 't' },
      el('thead', null, el('tr', null, el('th', { text: 'severity' }), el('th', { text: 'kind' }), el('th', { 'class': 'num', text: 'findings' }),
        el('th', { 'class': 'num', text: 'connections' }), el('th', { text: 'when' }), el('th', { text: 'what to change' }))),
      el('tbody', null, D.kinds.map(function (k) {
        return el('tr', null, el('td', null, sevBadge(k.sev)),
          el('td', null, el('a', { href: '#findings&kind=' + encodeURIComponent(k.name), text: k.name })),
          el('td', { 'class': 'num', text: num(k.n) }), el('td', { 'class': 'num', text: k.conns ? num(k.conns) : '—' }),
          el('td', { 'class': 'nowrap small', text: clock(k.first) + (k.last !== k.first ? ' → ' + clock(k.last) : '') }),
          el('td', { 'class': 'hint', text: hintOf(k.hint) }));
      }))));
    add(main, kinds);

    function places(title, list, isHost) {
      var p = el('div', { 'class': 'panel' }, el('h2', { text: title }));
      if (!list.length) { add(p, el('p', { 'class': 'muted', text: 'none' })); return p; }
      add(p, el('table', { 'class': 't' },
        el('thead', null, el('tr', null, el('th', { text: isHost ? 'host' : 'listener' }), el('th', { text: 'severity' }), el('th', { 'class': 'num', text: 'findings' }), el('th', { text: 'kinds and what to change' }))),
        el('tbody', null, list.map(function (pl) {
          var top = D.kinds[pl.kinds[0][0]];
          var link = isHost ? '#states=' + encodeURIComponent(pl.name) : '#findings&q=' + encodeURIComponent(pl.name);
          return el('tr', null, el('td', { 'class': 'mono nowrap' }, el('a', { href: link, text: pl.name })), el('td', null, sevBadge(pl.sev)),
            el('td', { 'class': 'num', text: num(pl.n) }),
            el('td', null, pl.kinds.map(function (k) { return el('span', { 'class': 'chip', text: kindName(k[0]) + ' ' + num(k[1]) }); }),
              top && top.hint >= 0 ? el('div', { 'class': 'hint', text: D.hints[top.hint] }) : null));
        }))));
      return p;
    }
    add(main, el('div', { 'class': 'grid cols2' }, places('Listeners most affected', D.affected.listeners, false), places('Hosts most affected', D.affected.hosts, true)));
    if (D.latency && D.latency.length) {
      var q = function (v) { return v ? v.slice(0, 3).map(dur).join(' / ') + ' (max ' + dur(v[3]) + ')' : '–'; };
      add(main, el('div', { 'class': 'panel' }, el('h2', { text: 'Latency per listener' }),
        el('p', { 'class': 'small muted', text: 'Percentiles p50 / p90 / p99 over connections. Handshake: the SYN to the ACK that completes the handshake, at the capture point. Response: a request\'s last segment to the first byte of the answer, each connection\'s mean. Retransmitted: share of the segments, both ways.' }),
        el('table', { 'class': 't' },
          el('thead', null, el('tr', null, el('th', { text: 'listener' }), el('th', { 'class': 'num', text: 'conns' }), el('th', { text: 'handshake RTT' }), el('th', { text: 'response time' }), el('th', { 'class': 'num', text: 'retransmitted' }))),
          el('tbody', null, D.latency.map(function (l) {
            return el('tr', null, el('td', { 'class': 'mono nowrap' }, el('a', { href: '#findings&q=' + encodeURIComponent(l.l), text: l.l })),
              el('td', { 'class': 'num', text: num(l.n) }), el('td', { 'class': 'mono', text: q(l.hs) }), el('td', { 'class': 'mono', text: q(l.app) }),
              el('td', { 'class': 'num', text: (l.rtx * 100).toFixed(1) + '%' }));
          })))));
    }
  }

  // ---- states over time ----------------------------------------------
  function hostFindings(host) {
    var out = [];
    for (var f = 0; f < NF; f++) {
      var c = F.conn[f];
      if (c >= 0 ? (addr(C.oa[c]) === host || addr(C.ra[c]) === host) : (F.scope[f] === host || F.scope[f].lastIndexOf(host + ':', 0) === 0 || F.scope[f].lastIndexOf('[' + host + ']:', 0) === 0)) out.push(f);
    }
    return out;
  }
  function niceMax(v) {
    if (v <= 4) return Math.max(v, 1);
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function statesView(h) {
    var S = D.states;
    add(main, el('h1', { text: 'States over time' }));
    if (!S || !S.hosts.length) { add(main, el('div', { 'class': 'panel muted', text: 'No per-host state counts in this report.' })); return; }
    var host = h.arg && S.hosts.some(function (x) { return x.host === h.arg; }) ? h.arg : S.hosts[0].host;
    var H = S.hosts.filter(function (x) { return x.host === host; })[0];
    var sel = el('select', { 'aria-label': 'host', onchange: function () { go('#states=' + encodeURIComponent(sel.value)); } },
      S.hosts.map(function (x) { return el('option', { value: x.host, selected: x.host === host, text: x.host + '  (' + num(x.conns) + ' connections)' }); }));
    var hidden = {};
    var panel = el('div', { 'class': 'panel' });
    add(panel, el('div', { 'class': 'chartbar' }, el('label', null, 'Host ', sel),
      el('span', { 'class': 'muted small', text: 'What `ss -tan` on this host would have counted: the most connections in each state at any instant of each ' +
        (S.step === 1e6 ? 'second' : dur(S.step)) + ' bucket, stacked (a connection that changed state within one counts in each state it passed through). Times in ' + (D.local ? 'local time' : 'UTC') + '. ' + (S.hosts.length < S.allHosts ? 'The ' + S.hosts.length + ' busiest or most affected of ' + num(S.allHosts) + ' hosts are charted.' : '') })));
    var states = STACK.filter(function (s) { return H.series[s]; });
    var legend = el('div', { 'class': 'legend' }, states.map(function (s) {
      var cb = el('input', { type: 'checkbox', checked: true, onchange: function () { hidden[s] = !cb.checked; draw(); } });
      return el('label', null, cb, el('i', { style: 'background:' + STATE_COLORS[s] }), s);
    }), el('span', { 'class': 'muted' }, el('span', { style: 'color:#b42318' }, '▲'), ' findings (click for the list)'));
    var box = el('div');
    add(panel, [legend, box]);
    add(main, panel);
    var hf = hostFindings(host);

    var W = 1200, Hh = 360, ml = 56, mr = 40, mt = 12, mb = 52;
    function draw() {
      box.textContent = '';
      var n = S.n, shown = states.filter(function (s) { return !hidden[s]; });
      var tot = new Array(n).fill(0);
      shown.forEach(function (s) { var a = H.series[s]; for (var i = 0; i < n; i++) tot[i] += a[i]; });
      var ymax = niceMax(Math.max.apply(null, tot.concat([1])));
      var pw = W - ml - mr, ph = Hh - mt - mb, bw = pw / n;
      var X = function (b) { return ml + b * bw; }, Y = function (v) { return mt + ph - v / ymax * ph; };
      var svg = sv('svg', { 'class': 'chart', id: 'states-chart', 'data-host': host, viewBox: '0 0 ' + W + ' ' + Hh, role: 'img', 'aria-label': 'connections per state on ' + host });
      var grid = sv('g', { 'class': 'grid' }), axis = sv('g', { 'class': 'axis' });
      var yt = ymax <= 5 ? ymax : 5;
      for (var k = 0; k <= yt; k++) {
        var v = ymax * k / yt, y = Y(v);
        add(grid, sv('line', { x1: ml, x2: W - mr, y1: y, y2: y }));
        add(axis, sv('text', { x: ml - 6, y: y + 4, 'text-anchor': 'end', text: Number.isInteger(v) ? num(v) : v.toFixed(1) }));
      }
      add(axis, sv('line', { x1: ml, x2: W - mr, y1: mt + ph, y2: mt + ph }));
      var ticks = Math.min(10, n), stepB = Math.max(1, Math.ceil(n / ticks));
      for (var b = 0; b <= n; b += stepB) {
        var x = X(b), rel = S.start + b * S.step;
        add(axis, sv('line', { x1: x, x2: x, y1: mt + ph, y2: mt + ph + 4 }));
        add(axis, sv('text', { x: x, y: mt + ph + 17, 'text-anchor': 'middle', text: clock(rel).slice(0, S.step < 1e6 ? 12 : 8) }));
      }
      add(svg, [grid]);
      var base = new Array(n).fill(0);
      shown.forEach(function (s) {
        var a = H.series[s], top = [], bot = [];
        for (var i = 0; i < n; i++) {
          var y0 = Y(base[i]), y1 = Y(base[i] + a[i]);
          top.push('L' + X(i).toFixed(1) + ' ' + y1.toFixed(1) + 'L' + X(i + 1).toFixed(1) + ' ' + y1.toFixed(1));
          bot.push('L' + X(i + 1).toFixed(1) + ' ' + y0.toFixed(1) + 'L' + X(i).toFixed(1) + ' ' + y0.toFixed(1));
          base[i] += a[i];
        }
        var d = 'M' + X(0) + ' ' + Y(0) + top.join('') + bot.reverse().join('') + 'Z';
        var peak = Math.max.apply(null, a);
        add(svg, sv('path', { 'class': 'area', 'data-state': s, 'data-peak': peak, d: d, fill: STATE_COLORS[s], 'fill-opacity': 0.85, stroke: STATE_COLORS[s], 'stroke-width': 0.6 },
          sv('title', { text: s + ': peak ' + peak })));
      });
      add(svg, axis);
      // Findings on the time axis.
      var marks = sv('g', { 'class': 'fmarks' });
      var seen = {};
      hf.forEach(function (f) {
        var b = Math.floor((F.t[f] - S.start) / S.step); if (b < 0) b = 0; if (b >= n) b = n - 1;
        var key = b + ':' + F.sev[f];
        if (seen[key]) { seen[key].n++; return; }
        var x = X(b) + bw / 2, y = mt + ph + 30, col = F.sev[f] === 2 ? '#b42318' : F.sev[f] === 1 ? '#c05621' : '#2b6cb0';
        var g = sv('g', { 'class': 'fmark', 'data-kind': kindName(F.kind[f]), 'data-sev': SEV[F.sev[f]] },
          sv('line', { x1: x, x2: x, y1: mt, y2: mt + ph, stroke: col, 'stroke-opacity': 0.35, 'stroke-dasharray': '3 3' }),
          sv('path', { d: 'M' + (x - 5) + ' ' + (y + 8) + 'L' + x + ' ' + y + 'L' + (x + 5) + ' ' + (y + 8) + 'Z', fill: col }));
        seen[key] = { n: 1, g: g, f: f };
        g.addEventListener('click', function () { go('#findings&host=' + encodeURIComponent(host) + '&from=' + ((S.start + b * S.step) / 1e6) + '&to=' + ((S.start + (b + 1) * S.step) / 1e6)); });
        add(marks, g);
      });
      Object.keys(seen).forEach(function (k) { var s = seen[k]; add(s.g, sv('title', { text: s.n + ' × ' + kindName(F.kind[s.f]) + ' (' + SEV[F.sev[s.f]] + ') from ' + clock(F.t[s.f]) })); });
      add(svg, marks);
      // Hover read-out.
      var cursor = sv('line', { y1: mt, y2: mt + ph, stroke: '#1c2330', 'stroke-width': 1, visibility: 'hidden' });
      var overlay = sv('rect', { x: ml, y: mt, width: pw, height: ph, fill: 'transparent' });
      add(svg, [cursor, overlay]);
      overlay.addEventListener('mousemove', function (e) {
        var r = svg.getBoundingClientRect(), sx = (e.clientX - r.left) * W / r.width;
        var b = Math.max(0, Math.min(n - 1, Math.floor((sx - ml) / bw)));
        cursor.setAttribute('x1', X(b) + bw / 2); cursor.setAttribute('x2', X(b) + bw / 2); cursor.setAttribute('visibility', 'visible');
        tip.innerHTML = '<b>' + esc(clock(S.start + b * S.step)) + '</b> + ' + esc(dur(S.step)) + '<br>' +
          shown.slice().reverse().filter(function (s) { return H.series[s][b]; }).map(function (s) { return '<i style="background:' + STATE_COLORS[s] + '"></i>' + s + ' ' + H.series[s][b]; }).join('<br>');
        tip.style.display = 'block'; tip.style.left = (e.clientX + 14) + 'px'; tip.style.top = (e.clientY + 10) + 'px';
      });
      overlay.addEventListener('mouseleave', function () { tip.style.display = 'none'; cursor.setAttribute('visibility', 'hidden'); });
      add(box, svg);
    }
    draw();
    // When each state started and peaked.
    var rows = states.map(function (s) {
      var a = H.series[s], firstB = -1, peak = 0, peakB = 0, last = -1;
      for (var i = 0; i < a.length; i++) { if (a[i] > 0) { if (firstB < 0) firstB = i; last = i; } if (a[i] > peak) { peak = a[i]; peakB = i; } }
      return el('tr', { 'data-state': s }, el('td', null, el('span', { 'class': 'chip', style: 'background:' + STATE_COLORS[s] + ';color:#fff', text: s })),
        el('td', { 'class': 'num', text: num(peak) }), el('td', { 'class': 'nowrap', text: clock(S.start + peakB * S.step).slice(0, S.step < 1e6 ? 12 : 8) }),
        el('td', { 'class': 'nowrap', text: firstB < 0 ? '—' : clock(S.start + firstB * S.step).slice(0, S.step < 1e6 ? 12 : 8) }),
        el('td', { 'class': 'nowrap', text: last < 0 ? '—' : clock(S.start + (last + 1) * S.step).slice(0, S.step < 1e6 ? 12 : 8) }),
        el('td', { 'class': 'num nowrap', text: last < 0 ? '—' : dur((last - firstB + 1) * S.step) }));
    });
    add(main, el('div', { 'class': 'grid cols2' },
      el('div', { 'class': 'panel' }, el('h2', { text: 'Per state on ' + host }),
        el('table', { 'class': 't' }, el('thead', null, el('tr', null, ['state', 'peak', 'peak at', 'first seen', 'last seen', 'span'].map(function (t, i) { return el('th', { 'class': i === 1 || i === 5 ? 'num' : null, text: t }); }))),
          el('tbody', null, rows))),
      el('div', { 'class': 'panel' }, el('h2', { text: 'Findings on ' + host + ' (' + num(hf.length) + ')' }),
        hf.length ? el('table', { 'class': 't' }, el('tbody', null, hf.slice(0, 12).map(function (f) {
          return el('tr', null, el('td', { 'class': 'nowrap small', text: clock(F.t[f]) }), el('td', null, sevBadge(F.sev[f])),
            el('td', null, el('a', { href: F.conn[f] >= 0 ? '#conn=' + C.uid[F.conn[f]] + '&f=' + f : '#finding=' + f, text: kindName(F.kind[f]) })),
            el('td', { 'class': 'small', text: F.sum[f].length > 140 ? F.sum[f].slice(0, 140) + '…' : F.sum[f] }));
        }))) : el('p', { 'class': 'muted', text: 'none' }),
        hf.length > 12 ? el('a', { href: '#findings&host=' + encodeURIComponent(host), text: 'all ' + num(hf.length) + ' findings on this host →' }) : null)));
  }

  // ---- virtual table -------------------------------------------------
  // vtable renders only the rows in view: cols are {name, width, cell(i),
  // sort(i) (a key), cls}; rows is an array of item numbers.
  function vtable(cols, rows, onClick, sortState, onSort) {
    var RH = 30, tmpl = cols.map(function (c) { return c.width; }).join(' ');
    var head = el('div', { 'class': 'vh', style: 'grid-template-columns:' + tmpl }, cols.map(function (c, i) {
      var cls = sortState && sortState.col === i ? 'sorted' + (sortState.asc ? ' asc' : '') : null;
      return el('div', { 'class': cls, text: c.name, onclick: function () { if (c.sort) onSort(i); } });
    }));
    var body = el('div', { 'class': 'vbody' });
    var spacer = el('div', { style: 'height:' + rows.length * RH + 'px' });
    body.appendChild(spacer);
    var rendered = {}, printing = false;
    function render() {
      var top = body.scrollTop, h = body.clientHeight || 800;
      var a = printing ? 0 : Math.max(0, Math.floor(top / RH) - 10), b = printing ? Math.min(rows.length, 3000) : Math.min(rows.length, Math.ceil((top + h) / RH) + 10);
      for (var k in rendered) { if (k < a || k >= b) { body.removeChild(rendered[k]); delete rendered[k]; } }
      for (var i = a; i < b; i++) {
        if (rendered[i]) continue;
        var item = rows[i];
        var r = el('div', { 'class': 'vr', style: 'grid-template-columns:' + tmpl + ';top:' + i * RH + 'px', 'data-item': item });
        cols.forEach(function (c) { var v = c.cell(item); var d = el('div', { 'class': c.cls || null }); add(d, v); if (typeof v === 'string') d.title = v; r.appendChild(d); });
        r.addEventListener('click', onClick.bind(null, item));
        body.appendChild(r);
        rendered[i] = r;
      }
    }
    var pending = false;
    body.addEventListener('scroll', function () { if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; render(); }); } });
    window.addEventListener('beforeprint', function () { printing = true; render(); });
    window.addEventListener('afterprint', function () { printing = false; render(); });
    var wrap = el('div', { 'class': 'vt' }, head, body);
    if (!rows.length) add(wrap, el('div', { 'class': 'empty', text: 'Nothing matches.' }));
    requestAnimationFrame(render);
    setTimeout(render, 0);
    return wrap;
  }

  // ---- findings table ------------------------------------------------
  var fsort = { col: 0, asc: true };
  function findingsView(h) {
    add(main, el('h1', { text: 'Findings' }));
    var fk = el('select', { 'aria-label': 'kind' }, el('option', { value: '', text: 'all kinds' }),
      D.kinds.map(function (k, i) { return el('option', { value: k.name, selected: h.kind === k.name, text: k.name + ' (' + k.n + ')' }); }));
    var fs = el('select', { 'aria-label': 'severity' }, el('option', { value: '', text: 'any' }),
      [2, 1, 0].map(function (s) { return el('option', { value: s, selected: h.sev === String(s), text: SEV[s] + ' and above' }); }));
    var fh = el('input', { type: 'text', placeholder: '10.0.0.2', value: h.host || '', size: 16 });
    var fp = el('input', { type: 'text', placeholder: '8080', value: h.port || '', size: 6 });
    var ff = el('input', { type: 'text', placeholder: 's from start', value: h.from || '', size: 8 });
    var ft = el('input', { type: 'text', placeholder: 's from start', value: h.to || '', size: 8 });
    var fq = el('input', { type: 'search', placeholder: 'summary, uid, endpoint', value: h.q || '', size: 22 });
    var count = el('span', { 'class': 'count' });
    add(main, el('div', { 'class': 'filters' }, el('label', null, 'kind', fk), el('label', null, 'severity', fs), el('label', null, 'host', fh),
      el('label', null, 'port', fp), el('label', null, 'from (s)', ff), el('label', null, 'to (s)', ft), el('label', null, 'text', fq), count));
    var box = el('div');
    add(main, box);
    function endsOf(f) {
      var c = F.conn[f];
      return c >= 0 ? [ep(C.oa[c], C.op[c]), ep(C.ra[c], C.rp[c])] : ['', F.scope[f]];
    }
    var cols = [
      { name: 'time', width: '222px', cell: function (f) { return stamp(F.t[f]); }, sort: function (f) { return F.t[f]; }, cls: 'mono' },
      { name: 'severity', width: '104px', cell: function (f) { return sevBadge(F.sev[f]); }, sort: function (f) { return -F.sev[f]; } },
      { name: 'kind', width: '170px', cell: function (f) { return kindName(F.kind[f]); }, sort: function (f) { return kindName(F.kind[f]); } },
      { name: 'connection', width: '120px', cell: function (f) { return F.conn[f] >= 0 ? C.uid[F.conn[f]] : (F.count[f] + ' conns'); }, sort: function (f) { return F.conn[f]; }, cls: 'mono' },
      { name: 'client', width: '190px', cell: function (f) { return endsOf(f)[0]; }, sort: function (f) { return endsOf(f)[0]; }, cls: 'mono' },
      { name: 'server', width: '190px', cell: function (f) { return endsOf(f)[1]; }, sort: function (f) { return endsOf(f)[1]; }, cls: 'mono' },
      { name: 'summary', width: 'minmax(200px, 1fr)', cell: function (f) { return F.sum[f]; } }
    ];
    function apply() {
      var kind = fk.value, sev = fs.value === '' ? -1 : +fs.value, host = fh.value.trim(), port = fp.value.trim(), q = fq.value.trim().toLowerCase();
      var from = ff.value.trim() === '' ? -Infinity : parseFloat(ff.value) * 1e6, to = ft.value.trim() === '' ? Infinity : parseFloat(ft.value) * 1e6;
      var rows = [];
      for (var f = 0; f < NF; f++) {
        if (kind && kindName(F.kind[f]) !== kind) continue;
        if (F.sev[f] < sev) continue;
        if (F.t[f] < from || F.t[f] > to) continue;
        var c = F.conn[f];
        if (host) {
          if (c >= 0 ? addr(C.oa[c]) !== host && addr(C.ra[c]) !== host : F.scope[f].indexOf(host) < 0) continue;
        }
        if (port) {
          if (c >= 0 ? String(C.op[c]) !== port && String(C.rp[c]) !== port : !F.scope[f].endsWith(':' + port)) continue;
        }
        if (q) {
          var e = endsOf(f);
          if ((F.sum[f] + ' ' + (c >= 0 ? C.uid[c] : '') + ' ' + e[0] + ' ' + e[1]).toLowerCase().indexOf(q) < 0) continue;
        }
        rows.push(f);
      }
      var col = cols[fsort.col], key = col.sort, dir = fsort.asc ? 1 : -1;
      if (fsort.col !== 0 || !fsort.asc) rows.sort(function (a, b) { var x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : a - b) * dir; });
      count.textContent = num(rows.length) + ' of ' + num(NF) + ' findings';
      box.textContent = '';
      add(box, vtable(cols, rows, function (f) { go(F.conn[f] >= 0 ? '#conn=' + C.uid[F.conn[f]] + '&f=' + f : '#finding=' + f); }, fsort,
        function (i) { fsort = { col: i, asc: fsort.col === i ? !fsort.asc : true }; apply(); }));
    }
    [fk, fs].forEach(function (x) { x.addEventListener('change', apply); });
    var timer = 0;
    [fh, fp, ff, ft, fq].forEach(function (x) { x.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(apply, 150); }); });
    apply();
  }

  // One aggregate finding (a listener or host), with its members.
  function findingView(h) {
    var f = +h.arg;
    if (!(f >= 0 && f < NF)) { add(main, el('div', { 'class': 'notice', text: 'No such finding.' })); return; }
    add(main, el('h1', null, kindName(F.kind[f]), ' ', el('span', { 'class': 'muted', text: F.scope[f] })));
    add(main, findingCard(f, true));
    if (F.members[f].length) {
      add(main, el('h3', { text: 'Member connections (' + num(F.members[f].length) + (F.count[f] > F.members[f].length ? ' of ' + num(F.count[f]) : '') + ')' }));
      add(main, connTable(F.members[f]));
    }
  }

  // ---- connections ---------------------------------------------------
  function connTable(rows) {
    var cols = [
      { name: 'uid', width: '130px', cell: function (c) { return C.uid[c]; }, cls: 'mono' },
      { name: 'originator', width: '200px', cell: function (c) { return ep(C.oa[c], C.op[c]); }, cls: 'mono' },
      { name: 'responder', width: '200px', cell: function (c) { return ep(C.ra[c], C.rp[c]); }, cls: 'mono' },
      { name: 'start', width: '120px', cell: function (c) { return clock(C.start[c]).slice(0, 12); }, cls: 'mono' },
      { name: 'duration', width: '90px', cell: function (c) { return dur(C.dur[c]); } },
      { name: 'pkts →/←', width: '90px', cell: function (c) { return C.opk[c] + '/' + C.rpk[c]; } },
      { name: 'orig state', width: '130px', cell: function (c) { return stName(C.os[c]); }, cls: 'mono' },
      { name: 'resp state', width: '130px', cell: function (c) { return stName(C.rs[c]); }, cls: 'mono' },
      { name: 'findings', width: 'minmax(120px, 1fr)', cell: function (c) { var l = connFindings.get(c); return l ? l.map(function (f) { return kindName(F.kind[f]); }).join(', ') : ''; } }
    ];
    return vtable(cols, rows, function (c) { go('#conn=' + C.uid[c]); }, null, null);
  }
  function connsView(h) {
    add(main, el('h1', { text: 'Connections' }));
    var q = el('input', { type: 'search', placeholder: 'uid, address or port', value: h.q || '', size: 28 });
    var onlyF = el('input', { type: 'checkbox', checked: h.findings === '1' });
    var count = el('span', { 'class': 'count' });
    add(main, el('div', { 'class': 'filters' }, el('label', null, 'filter', q), el('label', { style: 'flex-direction:row;align-items:center;gap:5px' }, onlyF, 'with findings only'), count));
    var box = el('div');
    add(main, box);
    function apply() {
      var s = q.value.trim().toLowerCase(), rows = [];
      for (var c = 0; c < NC; c++) {
        if (onlyF.checked && !connFindings.has(c)) continue;
        if (s && (C.uid[c] + ' ' + ep(C.oa[c], C.op[c]) + ' ' + ep(C.ra[c], C.rp[c])).toLowerCase().indexOf(s) < 0) continue;
        rows.push(c);
      }
      count.textContent = num(rows.length) + ' of ' + num(NC) + ' connections';
      box.textContent = '';
      add(box, connTable(rows));
    }
    var timer = 0;
    q.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(apply, 150); });
    onlyF.addEventListener('change', apply);
    apply();
  }

  // ---- one connection ------------------------------------------------
  function findingCard(f, selected, onFrame) {
    var card = el('div', { 'class': 'finding s' + F.sev[f] + (selected ? ' sel' : ''), 'data-finding': f },
      el('div', null, sevBadge(F.sev[f]), el('span', { 'class': 'fk', text: kindName(F.kind[f]) }),
        F.unc[f] ? el('span', { 'class': 'muted small', text: ' (uncertain from this vantage point)' }) : null),
      el('p', { text: F.sum[f] }));
    if (F.evf[f].length) add(card, el('ul', { 'class': 'ev' }, F.evf[f].map(function (fr, k) {
      return el('li', { title: stamp(F.evt[f][k]), onclick: function () { if (onFrame) onFrame(fr); } }, el('b', { text: '#' + fr }), ' ', F.evw[f][k]);
    })));
    var hint = hintOf(F.hint[f]);
    if (hint) add(card, el('p', { 'class': 'hint' }, el('b', { text: 'What to change: ' }), hint));
    return card;
  }
  var pendingScroll = null;
  function scrollToEvidence() {
    if (!pendingScroll) return;
    var e = document.querySelector('svg.ladder .pkt.evidence');
    if (e && e.getBoundingClientRect().bottom > window.innerHeight) e.scrollIntoView({ block: 'center' });
    pendingScroll = null;
  }
  function connView(h) {
    var c = uidIdx.get(h.arg);
    if (c === undefined) { add(main, el('div', { 'class': 'notice', text: 'No connection ' + h.arg + ' in this report.' })); return; }
    var fl = connFindings.get(c) || [];
    var selF = h.f !== undefined && fl.indexOf(+h.f) >= 0 ? +h.f : (fl.slice().sort(function (a, b) { return F.sev[b] - F.sev[a] || a - b; })[0]);
    var flags = [];
    if (C.fl[c] & 1) flags.push('picked up mid-stream');
    if (C.fl[c] & 2) flags.push('IPv6');
    if (C.fl[c] & 4) flags.push('reuses an earlier 4-tuple');
    if (C.fl[c] & 8) flags.push('originator re-assigned');
    add(main, el('div', { 'class': 'panel' },
      el('div', { 'class': 'connhead' }, el('span', { 'class': 'uid', text: C.uid[c] }),
        el('span', { 'class': 'ends', text: ep(C.oa[c], C.op[c]) + ' → ' + ep(C.ra[c], C.rp[c]) }),
        el('span', null, stamp(C.start[c]), el('span', { 'class': 'muted', text: ' for ' + dur(C.dur[c]) })),
        el('span', null, 'ends ', el('b', { 'class': 'mono', text: stName(C.os[c]) }), ' / ', el('b', { 'class': 'mono', text: stName(C.rs[c]) }),
          el('span', { 'class': 'muted', text: ' (' + D.reasons[C.reason[c]] + ')' })),
        el('span', { 'class': 'muted', text: C.opk[c] + '/' + C.rpk[c] + ' packets, ' + bytes(C.ob[c]) + '/' + bytes(C.rb[c]) + (C.retr[c] ? ', ' + C.retr[c] + ' retransmitted' : '') + (flags.length ? ' · ' + flags.join(', ') : '') })),
      C.met && C.met[c] ? el('div', { 'class': 'muted', text: C.met[c] }) : null));
    var evFrames = {};
    if (selF !== undefined) F.evf[selF].forEach(function (fr, k) { evFrames[fr] = F.evw[selF][k]; });
    var ti = C.tl[c];
    var left = el('div', { 'class': 'panel' });
    var ladder = null;
    function focusFrame(fr) {
      var g = document.querySelector('svg.ladder .pkt[data-frame="' + fr + '"]');
      if (g) g.scrollIntoView({ block: 'center', behavior: 'smooth' });
    }
    if (ti >= 0) {
      add(left, el('h2', { text: 'Ladder diagram' }));
      add(left, ladderKey());
      ladder = drawLadder(D.timelines[ti], c, evFrames);
      add(left, el('div', { 'class': 'ladderwrap' }, ladder));
      pendingScroll = true;
    } else {
      add(left, el('div', { 'class': 'notice', text: 'This connection\'s packets were not recorded: the report keeps the timelines of connections with findings' +
        (D.limits.timelinesOmitted ? ' (up to ' + num(D.limits.maxTimelines) + ')' : '') + '. Run wirestate with --conn ' + C.uid[c] + ' to see them.' }));
    }
    var side = el('div', { 'class': 'side' });
    if (fl.length) {
      add(side, el('h3', { text: 'Findings (' + fl.length + ')' }));
      fl.forEach(function (f) {
        var card = findingCard(f, f === selF, focusFrame);
        if (fl.length > 1 && f !== selF) { card.style.cursor = 'pointer'; card.addEventListener('click', function (e) { if (e.target.tagName !== 'LI' && e.target.parentNode.tagName !== 'LI') go('#conn=' + C.uid[c] + '&f=' + f); }); }
        add(side, card);
      });
    } else add(side, el('p', { 'class': 'muted', text: 'No findings on this connection.' }));
    add(side, el('h3', { text: 'Open in Wireshark' }));
    var a = addr(C.oa[c]), b = addr(C.ra[c]), v6 = a.indexOf(':') >= 0 ? 'ipv6' : 'ip';
    add(side, el('div', { 'class': 'small muted', text: 'This connection:' }),
      el('div', { 'class': 'wsfilter', text: v6 + '.addr==' + a + ' && tcp.port==' + C.op[c] + ' && ' + v6 + '.addr==' + b + ' && tcp.port==' + C.rp[c] }));
    var evl = Object.keys(evFrames);
    if (evl.length) add(side, el('div', { 'class': 'small muted', style: 'margin-top:6px', text: 'The evidence (frame numbers of the capture as read):' }),
      el('div', { 'class': 'wsfilter', text: 'frame.number in {' + evl.join(' ') + '}' }));
    add(main, el('div', { 'class': 'conn-layout' }, left, side));
  }

  function ladderKey() {
    function pill(inf) {
      return sv('svg', { width: 46, height: 16 }, sv('rect', { x: 1, y: 1, width: 44, height: 14, rx: 7, fill: inf ? '#fff' : '#2f9e77', stroke: '#2f9e77', 'stroke-dasharray': inf ? '3 2' : null }));
    }
    return el('div', { 'class': 'keyline' },
      el('span', null, pill(false), ' state the endpoint\'s own packets proved'),
      el('span', null, pill(true), ' inferred from assumed delivery (?)'),
      el('span', null, el('span', { style: 'background:#fff3c4;padding:0 6px' }, 'highlighted'), ' evidence of the finding'),
      el('span', null, 'dashed arrow: retransmission'));
  }

  // drawLadder draws one connection's packets as a sequence diagram.
  function drawLadder(T, c, evFrames) {
    var n = T.t.length, ROW = 44, TOP = 92, GAP = 30;
    var W = 1060, xO = 300, xR = 660, gutter = 10;
    // Vertical positions: even spacing, with room for gap and elision markers.
    var ys = [], y = TOP, elided = {};
    T.elided.forEach(function (e) { elided[e[0]] = e[1]; });
    var dts = [];
    for (var i = 1; i < n; i++) dts.push(T.t[i] - T.t[i - 1]);
    var sorted = dts.slice().sort(function (a, b) { return a - b; }), median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
    var gapLimit = Math.max(100000, median * 20);
    var markers = [];
    for (i = 0; i < n; i++) {
      if (elided[i]) { markers.push({ y: y, text: '… ' + num(elided[i]) + ' packets not embedded in this report …' }); y += GAP; }
      else if (i > 0 && T.t[i] - T.t[i - 1] >= gapLimit) { markers.push({ y: y, text: dur(T.t[i] - T.t[i - 1]) + ' later', gap: true }); y += GAP; }
      ys.push(y); y += ROW;
    }
    var timers = T.tr.filter(function (r) { return r[5] & 4; });
    var tailElided = elided[n] || 0;
    if (tailElided) { markers.push({ y: y, text: '… ' + num(tailElided) + ' packets not embedded …' }); y += GAP; }
    var timerY = [];
    timers.forEach(function (r) { markers.push({ y: y, text: dur(r[1] - T.t[n - 1]) + ' later', gap: true }); y += GAP; timerY.push(y); y += ROW; });
    var H = y + 20;
    var svg = sv('svg', { 'class': 'ladder', id: 'ladder', 'data-conn': C.uid[c], width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, style: 'width:100%;max-width:' + W + 'px;height:auto' });
    add(svg, sv('defs', null, ['#4a5568', '#2b6cb0', '#6b46c1', '#c53030', '#2f855a'].map(function (col) {
      return sv('marker', { id: 'ah' + col.slice(1), viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        sv('path', { d: 'M0 0L10 5L0 10z', fill: col }));
    })));
    // Endpoint headers.
    function head(x, title, sub) {
      return sv('g', { 'class': 'ep' }, sv('rect', { x: x - 140, y: 8, width: 280, height: 44, rx: 5, fill: '#18202c' }),
        sv('text', { x: x, y: 27, 'text-anchor': 'middle', fill: '#fff', text: title }),
        sv('text', { x: x, y: 44, 'text-anchor': 'middle', fill: '#9aa7b8', style: 'font-weight:400;font-size:11px', text: sub }));
    }
    add(svg, sv('text', { 'class': 'gut', x: gutter, y: 74, text: 'frame · time since start' }));
    add(svg, head(xO, ep(C.oa[c], C.op[c]), 'originator' + (C.fl[c] & 1 ? ' (guessed: picked up mid-stream)' : '')));
    add(svg, head(xR, ep(C.ra[c], C.rp[c]), 'responder'));
    // State history per side, from the packets' state columns.
    var lines = sv('g', { 'class': 'lifelines' }), pills = sv('g', { 'class': 'pills' });
    function stOf(i, side) { var v = T.st[i]; return { s: side ? (v >> 4) & 15 : v & 15, inf: !!(v & (side ? 512 : 256)) }; }
    var corrected = {};
    T.tr.forEach(function (r) { if (r[5] & 2) corrected[r[0] + ':' + r[2]] = true; });
    [0, 1].forEach(function (side) {
      var x = side ? xR : xO;
      // Initial state: the "from" of the side's first transition, or its first state.
      var first = T.tr.filter(function (r) { return r[2] === side && !(r[5] & 4); })[0];
      var cur = first && first[0] === T.f[0] ? { s: first[3], inf: false } : (n ? stOf(0, side) : { s: 0, inf: false });
      var segStart = 60;
      function seg(y2, st) {
        add(lines, sv('line', { x1: x, x2: x, y1: segStart, y2: y2, stroke: STATE_COLORS[SN[st.s]] || '#a0aec0', 'stroke-width': st.s === 0 ? 2 : 5,
          'stroke-dasharray': st.inf ? '6 4' : null, 'stroke-opacity': st.s === 0 ? 0.6 : 0.9, 'data-state': SN[st.s] }));
        segStart = y2;
      }
      add(pills, pill(x, side, 70, cur, false, false));
      for (var i = 0; i < n; i++) {
        var nx = stOf(i, side), at = ys[i] + 18;
        if (nx.s !== cur.s || nx.inf !== cur.inf) {
          seg(at, cur);
          if (nx.s !== cur.s || !nx.inf) add(pills, pill(x, side, at, nx, nx.s !== cur.s, corrected[T.f[i] + ':' + side]));
          cur = nx;
        }
      }
      timers.forEach(function (r, k) {
        if (r[2] !== side) return;
        seg(timerY[k] + 10, cur);
        cur = { s: r[4], inf: true };
        add(pills, pill(x, side, timerY[k] + 10, cur, true, false));
      });
      seg(H - 10, cur);
    });
    // Rows.
    var rows = sv('g', { 'class': 'pkts' });
    for (i = 0; i < n; i++) {
      var fr = T.f[i], from = T.d[i], y0 = ys[i], isEv = evFrames[fr] !== undefined;
      var flg = T.fl[i], notes = kindNotes(T.k[i]);
      var col = flg & 4 ? '#c53030' : flg & 2 ? '#2b6cb0' : flg & 1 ? '#6b46c1' : T.len[i] > 0 ? '#2f855a' : '#4a5568';
      var retrans = notes.some(function (n) { return n.indexOf('retransmission') >= 0; });
      var xa = from ? xR : xO, xb = from ? xO : xR;
      var g = sv('g', { 'class': 'pkt' + (isEv ? ' evidence' : ''), 'data-frame': fr, 'data-dir': from ? 'resp' : 'orig' });
      add(g, sv('rect', { 'class': isEv ? 'evidence-band' : 'hover-band', x: 0, y: y0 - 16, width: W, height: ROW - 4, fill: isEv ? null : 'transparent' }));
      add(g, sv('text', { 'class': 'gut fr', x: gutter, y: y0 + 2, text: '#' + fr }));
      add(g, sv('text', { 'class': 'gut', x: gutter, y: y0 + 16, text: relSec(T.t[i]) }));
      add(g, sv('line', { x1: xa + (from ? -3 : 3), y1: y0, x2: xb + (from ? 3 : -3), y2: y0 + 18, stroke: col, 'stroke-width': isEv ? 2.4 : 1.6,
        'stroke-dasharray': retrans ? '7 4' : null, 'marker-end': 'url(#ah' + col.slice(1) + ')' }));
      var mid = (xO + xR) / 2, ackTxt = flg & 16 ? ' ack ' + T.ack[i] : '';
      add(g, sv('text', { 'class': 'lbl', x: mid, y: y0 - 3, 'text-anchor': 'middle', text: '[' + flagText(flg) + ']  seq ' + T.seq[i] + ackTxt + (T.len[i] ? '  len ' + T.len[i] : '') }));
      add(g, sv('text', { 'class': 'sub', x: mid + (from ? -60 : 60), y: y0 + 24, 'text-anchor': 'middle', text: 'win ' + T.win[i] + (notes.length ? '' : '') }));
      if (notes.length) add(g, sv('text', { 'class': 'note', x: mid + (from ? 70 : -70), y: y0 + 24, 'text-anchor': 'middle', text: notes.join(', ') }));
      if (isEv) {
        var txt = evFrames[fr], short = txt.length > 34 ? txt.slice(0, 33) + '…' : txt;
        add(g, sv('text', { 'class': 'evnote', x: xR + 150, y: y0 + 10, text: '◀ ' + short }, sv('title', { text: 'evidence: ' + txt })));
      }
      add(g, sv('title', { text: 'frame ' + fr + ' · ' + stamp(C.start[c] + T.t[i]) + ' · ' + (from ? 'responder → originator' : 'originator → responder') + ' · ' + flagText(flg) +
        ' · states after: ' + stName(T.st[i] & 15 | (T.st[i] & 256 ? 16 : 0)) + ' / ' + stName((T.st[i] >> 4) & 15 | (T.st[i] & 512 ? 16 : 0)) }));
      add(rows, g);
    }
    timers.forEach(function (r, k) {
      var x = r[2] ? xR : xO, yy = timerY[k];
      add(rows, sv('g', { 'class': 'timer', 'data-side': r[2] ? 'resp' : 'orig' },
        sv('text', { 'class': 'gut', x: gutter, y: yy + 2, text: 'timer' }),
        sv('text', { 'class': 'gut', x: gutter, y: yy + 16, text: relSec(r[1]) }),
        sv('text', { 'class': 'lbl', x: (xO + xR) / 2, y: yy + 12, 'text-anchor': 'middle', text: '2MSL timer expires on the ' + (r[2] ? 'responder' : 'originator') + ': ' + SN[r[3]] + ' → ' + SN[r[4]] })));
    });
    var gaps = sv('g', { 'class': 'gap' });
    markers.forEach(function (m) {
      var yy = m.y + 4;
      add(gaps, sv('path', { d: 'M' + (xO - 12) + ' ' + (yy - 3) + 'l8 -5l8 10l8 -5M' + (xR - 12) + ' ' + (yy - 3) + 'l8 -5l8 10l8 -5', stroke: '#718096', fill: 'none', 'stroke-width': 1.2 }));
      add(gaps, sv('rect', { x: (xO + xR) / 2 - 110, y: yy - 11, width: 220, height: 18, rx: 9, fill: '#edf0f3' }));
      add(gaps, sv('text', { x: (xO + xR) / 2, y: yy + 2, 'text-anchor': 'middle', text: m.text }));
    });
    add(svg, [lines, gaps, rows, pills]);
    return svg;
  }
  // pill draws one endpoint's state where it changes.
  function pill(x, side, y, st, changed, correction) {
    var name = SN[st.s] + (st.inf ? '?' : '') + (correction ? ' !' : ''), w = Math.max(64, name.length * 7.2 + 16), col = STATE_COLORS[SN[st.s]] || '#a0aec0';
    var px = side ? x + 12 : x - 12 - w;
    return sv('g', { 'class': 'pill' + (st.inf ? ' inferred' : ''), 'data-state': SN[st.s], 'data-side': side ? 'resp' : 'orig', 'data-inferred': st.inf ? '1' : '0' },
      sv('rect', { x: px, y: y - 9, width: w, height: 18, rx: 9, fill: st.inf ? '#fff' : col, stroke: col, 'stroke-width': 1.5, 'stroke-dasharray': st.inf ? '4 3' : null }),
      sv('text', { x: px + w / 2, y: y + 4, 'text-anchor': 'middle', fill: st.inf ? col : '#fff', text: name }),
      sv('title', { text: (side ? 'responder' : 'originator') + ' ' + (changed ? 'enters ' : 'is in ') + SN[st.s] + (st.inf ? ' (inferred from the assumed delivery of the other side\'s segment)' : ' (proved by its own packets)') + (correction ? '; an earlier inference was undone' : '') }));
  }

  route();
  var ms = performance.now() - t0;
  document.body.setAttribute('data-render-ms', ms.toFixed(0));
  document.body.setAttribute('data-load-ms', performance.now().toFixed(0));
  document.body.setAttribute('data-ready', '1');
  if (window.console) console.log('wirestate: report rendered in ' + ms.toFixed(0) + ' ms (' + NC + ' connections, ' + NF + ' findings)');
})();
