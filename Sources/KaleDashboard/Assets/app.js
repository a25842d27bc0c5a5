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
    step('started_at', t.started_at);
    step('finished_at', t.finished_at);
    if (t.finished_at) field('finished_label', t.state);
    var bar = document.getElementById('task-progress');
    if (bar && typeof t.progress === 'number') {
      bar.value = t.progress;
      field('progress_message', t.progress_message || Math.round(t.progress * 100) + ' %');
    }
  }

  var source = new EventSource(url);
  source.addEventListener('open', function () { say('live', 'on'); });
  source.addEventListener('error', function () { say('reconnecting…', 'off'); });
  source.addEventListener('overview', function (e) { say('live', 'on'); overview(JSON.parse(e.data)); });
  source.addEventListener('trouble', function () { say('Redis unreachable, retrying', 'off'); });
  source.addEventListener('task', function (e) { say('live', 'on'); task(JSON.parse(e.data)); });
  source.addEventListener('end', function (e) {
    source.close();
    var state = JSON.parse(e.data).state;
    say('task ' + state + ': reload for its result and actions', 'done');
  });
})();
