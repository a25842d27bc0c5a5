// Kale dashboard: the live view. The pages are complete without this file; it follows the
// server-sent events of the page's data-live URL and updates numbers in place. Text goes in
// with textContent only (never innerHTML), so nothing a task supplies can become markup.
'use strict';
(function () {
  var body = document.body;
  var url = body && body.dataset.live;
  var status = document.getElementById('live-status');
  function say(text, cls) {
    if (!status) return;
    status.textContent = text;
    status.className = 'live-status ' + (cls || '');
  }
  if (!url || typeof EventSource === 'undefined') return;

  function cells(queue, state) {
    return Array.prototype.filter.call(document.querySelectorAll('[data-queue][data-state]'), function (el) {
      return el.dataset.queue === queue && el.dataset.state === state;
    });
  }
  function setCount(queue, state, n) {
    cells(queue, state).forEach(function (el) {
      if (el.dataset.count !== String(n)) {
        el.dataset.count = String(n);
        el.textContent = String(n);
        el.classList.remove('changed');
        void el.offsetWidth; // restart the highlight animation
        el.classList.add('changed');
      }
    });
  }

  function overview(d) {
    var known = {};
    (d.queues || []).forEach(function (q) {
      known[q.queue] = true;
      var p = q.pending_by_priority || {};
      setCount(q.queue, 'pending', q.pending);
      ['high', 'normal', 'low'].forEach(function (k) { setCount(q.queue, 'pending.' + k, p[k] || 0); });
      setCount(q.queue, 'scheduled', q.scheduled);
      setCount(q.queue, 'running', q.active);
      setCount(q.queue, 'dead', q.dead);
      cells(q.queue, 'succeeded_last_minute').forEach(function (el) { el.textContent = String(q.completed_last_minute); });
      cells(q.queue, 'failed_last_minute').forEach(function (el) { el.textContent = String(q.failed_last_minute); });
    });
    var note = document.getElementById('new-queues');
    if (note) {
      var rows = Array.prototype.map.call(document.querySelectorAll('[data-queue-row]'), function (r) { return r.dataset.queueRow; });
      var fresh = Object.keys(known).filter(function (q) { return rows.indexOf(q) < 0; });
      note.hidden = fresh.length === 0;
      note.textContent = fresh.length ? 'New queues: ' + fresh.join(', ') + ' (reload to see them).' : '';
    }
    var workers = d.workers || [];
    document.querySelectorAll('[data-workers-online]').forEach(function (el) {
      el.dataset.count = String(workers.length);
      el.textContent = String(workers.length);
    });
    // Running tasks' progress on the workers page.
    var progress = {};
    workers.forEach(function (w) { (w.running || []).forEach(function (r) { progress[r.id] = r.progress; }); });
    document.querySelectorAll('progress[data-running]').forEach(function (el) {
      var p = progress[el.dataset.running];
      if (typeof p === 'number') el.value = p;
    });
  }

  function field(name, text) {
    document.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) { el.textContent = text; });
  }
  function step(name, iso) {
    field(name, when(iso));
    document.querySelectorAll('time[data-field="' + name + '"]').forEach(function (el) {
      var li = el.closest('li');
      if (li) li.classList.toggle('pending', !iso);
    });
  }
  function when(iso) {
    if (!iso) return '–';
    var s = (Date.now() - Date.parse(iso)) / 1000;
    return iso + ' (' + (s >= 0 ? Math.round(s) + 's ago' : 'in ' + Math.round(-s) + 's') + ')';
  }
  function task(t) {
    field('state', t.state);
    field('attempts', String(t.attempts));
    field('worker', t.worker || '–');
    step('enqueued_at', t.enqueued_at);
    step('started_at', t.started_at);
    step('finished_at', t.finished_at);
    if (t.finished_at) field('finished_label', t.state);
    var bar = document.getElementById('task-progress');
    if (bar && typeof t.progress === 'number') {
      bar.value = t.progress;
      field('progress_message', t.progress_message || Math.round(t.progress * 100) + ' %');
    }
  }

  // The history charts are drawn on the server; every 30 s (the buckets are per minute) the
  // panel is fetched again and swapped in. Parsed with DOMParser, never run: the CSP allows no
  // inline script, and the fragment is the server's escaped markup.
  var panel = document.getElementById('history-panel');
  if (panel && window.fetch && window.DOMParser) {
    setInterval(function () {
      fetch('/fragments/history', {credentials: 'same-origin'}).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (text) {
        if (!text) return;
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('history-panel');
        var current = document.getElementById('history-panel');
        if (fresh && current) current.replaceWith(document.importNode(fresh, true));
      }).catch(function () {});
    }, 30000);
  }

  // New lifecycle events go on top of the overview's table, built from text nodes only.
  function events(list) {
    var table = document.getElementById('recent-events');
    var body = table && table.tBodies[0];
    if (!body) return;
    list.forEach(function (e) {
      if (Array.prototype.some.call(body.rows, function (r) { return r.dataset.id === e.id; })) return;
      var row = document.createElement('tr');
      row.dataset.id = e.id;
      row.dataset.event = e.kind;
      row.dataset.task = e.task || '';
      [e.time, e.queue || '', e.kind, null, e.name || '', e.attempt == null ? '' : String(e.attempt), e.worker || '',
       e.detail || (e.pid ? 'pid ' + e.pid : '')].forEach(function (text, i) {
        var td = document.createElement('td');
        if (i === 0) td.className = 'when';
        if (i === 3 && e.task) {
          var a = document.createElement('a');
          a.href = '/tasks/' + encodeURIComponent(e.task) + '?queue=' + encodeURIComponent(e.queue || '');
          a.textContent = e.task;
          td.className = 'id';
          td.appendChild(a);
        } else {
          td.textContent = text || '';
        }
        row.appendChild(td);
      });
      body.insertBefore(row, body.firstChild);
    });
    while (body.rows.length > 50) body.deleteRow(body.rows.length - 1);
  }

  var source = new EventSource(url);
  source.addEventListener('open', function () { say('live', 'on'); });
  source.addEventListener('error', function () { say('reconnecting…', 'off'); });
  source.addEventListener('overview', function (e) { say('live', 'on'); overview(JSON.parse(e.data)); });
  source.addEventListener('events', function (e) { events(JSON.parse(e.data)); });
  source.addEventListener('trouble', function () { say('Redis unreachable, retrying', 'off'); });
  source.addEventListener('task', function (e) { say('live', 'on'); task(JSON.parse(e.data)); });
  source.addEventListener('end', function (e) {
    source.close();
    var state = JSON.parse(e.data).state;
    say('task ' + state + ': reload for its result and actions', 'done');
  });
})();
