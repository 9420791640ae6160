// errand dashboard: live updates. The pages are complete without this
// script; it only keeps them current from the API's Server-Sent Events
// (through /live/..., which carries the session). Everything shown comes
// from JSON and is set with textContent, never as HTML.
(function () {
  'use strict';
  var csrf = (document.querySelector('meta[name="csrf"]') || {}).content || '';

  function fmtDur(ms) {
    if (!(ms > 0)) return '';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + 'm ' + Math.floor(ms / 1000) % 60 + 's';
    return Math.floor(ms / 3600000) + 'h ' + Math.floor(ms / 60000) % 60 + 'm';
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  function field(root, name) { return root.querySelector('[data-field="' + name + '"]'); }
  function terminal(s) { return s === 'finished' || s === 'failed' || s === 'cancelled'; }
  function pretty(v) { return v === undefined ? '' : JSON.stringify(v, null, 2); }
  function micros(t) { return t ? Date.parse(t) * 1000 : 0; }

  // The duration cells tick while a job runs.
  function setDuration(cell, job) {
    if (!cell) return;
    cell.dataset.started = String(micros(job.started_at));
    cell.dataset.ended = String(micros(job.ended_at));
    showDuration(cell);
  }
  function showDuration(cell) {
    var s = +cell.dataset.started, e = +cell.dataset.ended;
    if (!s) { cell.textContent = ''; return; }
    cell.textContent = fmtDur(((e || Date.now() * 1000) - s) / 1000);
  }
  setInterval(function () {
    document.querySelectorAll('[data-field="duration"]').forEach(function (c) {
      if (+c.dataset.started && !+c.dataset.ended) showDuration(c);
    });
  }, 1000);

  function cancelForm(job, back, label) {
    var f = el('form', { method: 'post', action: '/jobs/' + encodeURIComponent(job.id) + '/cancel', 'class': 'inline' });
    f.appendChild(el('input', { type: 'hidden', name: 'csrf', value: csrf }));
    if (back) f.appendChild(el('input', { type: 'hidden', name: 'back', value: back }));
    f.appendChild(el('button', { type: 'submit', 'class': label === 'Cancel' ? 'danger small' : 'danger' }, label));
    return f;
  }

  // Shared by a list row and the job page.
  function applyJob(root, job, back) {
    var st = field(root, 'status');
    if (st) { st.textContent = job.status; st.className = 'status s-' + job.status; }
    root.dataset && (root.dataset.status = job.status);
    var pr = field(root, 'progress');
    if (pr) { var p = Math.round((job.progress || 0) * 100); pr.value = p; pr.textContent = p + '%'; }
    var msg = field(root, 'message');
    if (msg) msg.textContent = job.status === 'finished' ? '' : job.progress_message || '';
    setDuration(field(root, 'duration'), job);
    var att = field(root, 'attempt');
    if (att) att.textContent = (job.attempt + 1) + ' of ' + job.max_attempts;
    var res = field(root, 'result');
    if (res) {
      res.textContent = '';
      if (job.error) res.appendChild(el('span', { 'class': 'err' }, job.error.message));
      else if (job.output !== undefined) res.appendChild(el('code', { 'class': 'out' }, JSON.stringify(job.output)));
    }
    var out = field(root, 'output');
    if (out) out.textContent = pretty(job.output);
    var er = field(root, 'error');
    if (er) {
      er.textContent = '';
      if (job.error) {
        var p2 = el('p', { 'class': 'error' });
        p2.appendChild(el('strong', null, job.error.name || 'Error'));
        p2.appendChild(document.createTextNode(' ' + job.error.message));
        er.appendChild(p2);
      }
    }
    var act = field(root, 'actions');
    if (act && terminal(job.status)) {
      act.querySelectorAll('form[action$="/cancel"]').forEach(function (f) { f.remove(); });
    } else if (act && !act.querySelector('form')) {
      act.appendChild(cancelForm(job, back, root.tagName === 'TR' ? 'Cancel' : 'Cancel job'));
    }
  }

  function newRow(job, admin) {
    var tr = el('tr', { 'data-job': job.id });
    var link = el('a', { href: '/jobs/' + encodeURIComponent(job.id) });
    link.appendChild(el('code', null, job.id));
    var td = el('td', { 'data-label': 'Job' }); td.appendChild(link); tr.appendChild(td);
    tr.appendChild(el('td', { 'data-label': 'Function' }, job.function));
    if (admin) {
      td = el('td', { 'data-label': 'Owner' });
      td.appendChild(job.owner ? el('code', null, job.owner) : el('span', { 'class': 'muted' }, 'system'));
      tr.appendChild(td);
    }
    td = el('td', { 'data-label': 'Status' }); td.appendChild(el('span', { 'data-field': 'status' })); tr.appendChild(td);
    td = el('td', { 'data-label': 'Progress' });
    td.appendChild(el('progress', { max: '100', value: '0', 'data-field': 'progress', 'aria-label': 'Progress' }));
    td.appendChild(document.createTextNode(' '));
    td.appendChild(el('span', { 'class': 'msg', 'data-field': 'message' }));
    tr.appendChild(td);
    tr.appendChild(el('td', { 'data-label': 'Duration', 'data-field': 'duration' }));
    tr.appendChild(el('td', { 'data-label': 'Result', 'data-field': 'result' }));
    tr.appendChild(el('td', { 'data-label': 'Actions', 'data-field': 'actions' }));
    return tr;
  }

  function liveState(text) {
    var n = document.querySelector('[data-live-state]');
    if (n) n.textContent = text;
  }

  // "My jobs": every change of the user's jobs after the page was read.
  var list = document.querySelector('[data-live-list]');
  if (list && window.EventSource) {
    var body = list.tBodies[0];
    var es = new EventSource(list.dataset.liveList + '?since=' + encodeURIComponent(list.dataset.since || ''));
    es.onopen = function () { liveState('· live'); };
    es.onerror = function () { liveState('· reconnecting…'); };
    es.addEventListener('job', function (e) {
      var job = JSON.parse(e.data);
      var tr = body.querySelector('tr[data-job="' + CSS.escape(job.id) + '"]');
      if (!tr && list.hasAttribute('data-live-rows-only')) return; // a filtered list: rows it shows only
      if (!tr) {
        tr = newRow(job, list.hasAttribute('data-admin'));
        var empty = body.querySelector('tr.empty');
        if (empty) empty.remove();
        body.insertBefore(tr, body.firstChild);
      }
      applyJob(tr, job, list.hasAttribute('data-admin') ? '/admin/jobs' : '');
    });
  }

  // A job page: the job's changes, and its steps read again on each.
  var page = document.querySelector('[data-live-job]');
  if (page && window.EventSource) {
    var steps = document.getElementById('steps');
    var back = location.pathname;
    var stream = new EventSource(page.dataset.liveJob);
    stream.addEventListener('job', function (e) {
      var job = JSON.parse(e.data);
      applyJob(page, job, back);
      fetch(page.dataset.steps, { credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) { if (s && steps) renderSteps(steps, s.steps || []); })
        .catch(function () {});
      if (terminal(job.status)) stream.close();
    });
  }

  function renderSteps(ol, steps) {
    ol.textContent = '';
    if (!steps.length) { ol.appendChild(el('li', { 'class': 'empty' }, 'No steps yet.')); return; }
    steps.forEach(function (s) {
      var li = el('li', { 'class': 'step st-' + s.status });
      var head = el('div', { 'class': 'step-head' });
      head.appendChild(el('strong', null, s.name || s.id));
      head.appendChild(el('span', { 'class': 'kind' }, s.kind));
      head.appendChild(el('span', { 'class': 'status s-' + s.status }, s.status));
      var end = s.ended_at ? Date.parse(s.ended_at) : Date.now();
      head.appendChild(el('span', { 'class': 'dur' }, fmtDur(end - Date.parse(s.started_at))));
      head.appendChild(el('span', { 'class': 'att' }, s.attempts + (s.attempts === 1 ? ' attempt' : ' attempts')));
      if (s.wake_at && s.status === 'waiting') {
        head.appendChild(el('span', { 'class': 'dur' }, 'until ' + s.wake_at.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') + ' UTC'));
      }
      li.appendChild(head);
      if (s.output !== undefined) {
        var d = el('details');
        d.appendChild(el('summary', null, 'Output'));
        d.appendChild(el('pre', { 'class': 'json' }, pretty(s.output)));
        li.appendChild(d);
      }
      if (s.error) {
        var p = el('p', { 'class': 'error' });
        p.appendChild(el('strong', null, s.error.name || 'Error'));
        p.appendChild(document.createTextNode(' ' + s.error.message));
        li.appendChild(p);
      }
      ol.appendChild(li);
    });
  }
})();
