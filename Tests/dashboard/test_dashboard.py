"""The dashboard against real processes: redis-server, `kale worker`, `kale-full`, and
Debian's chromium driven by Selenium. Run by scripts/test-dashboard.sh (python -m unittest)."""
import json
import os
import time
import unittest
import uuid

from prometheus_client.parser import text_string_to_metric_families
from selenium.webdriver.common.by import By

from harness import TOKEN, Kale, RedisServer, browser, cell, http, login, notice, screenshot, wait_until

XSS_A = "<script>window.__x=1</script>"
XSS_B = "\"><img src=x onerror=window.__x=2>"


class LiveDashboardTests(unittest.TestCase):
    """One Redis, one dashboard with a token, one browser, one worker (started by the first test,
    so the overview can be compared with Redis while nothing moves)."""

    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()
        cls.kale = Kale(cls.server)
        cls.dash, cls.base = cls.kale.dashboard(token=TOKEN)
        cls.driver = browser()
        cls.worker = None

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.kale.close()
        cls.server.close()

    def tearDown(self):
        self.kale.audit(self)

    def ensure_worker(self):
        if type(self).worker is None:
            type(self).worker = self.kale.worker("q1,q2", concurrency=2)

    def key(self, queue, suffix):
        return f"{self.kale.prefix}:{{{queue}}}:{suffix}"

    def record(self, queue, task_id):
        return self.server.client.hgetall(self.key(queue, "t:" + task_id))

    def redis_counts(self, queue):
        r = self.server.client
        return {"pending": sum(r.llen(self.key(queue, "pending:" + p)) for p in ("high", "normal", "low")),
                "scheduled": r.zcard(self.key(queue, "scheduled")), "running": r.zcard(self.key(queue, "active")),
                "dead": r.zcard(self.key(queue, "dead"))}

    def page_counts(self, queue):
        return {s: cell(self.driver, queue, s) for s in ("pending", "scheduled", "running", "dead")}

    def wait_dead(self, queue, task_id):
        wait_until(lambda: self.server.client.zscore(self.key(queue, "dead"), task_id) is not None, timeout=30,
                   what=f"task {task_id} to die")

    def test_01_overview_counts_and_live_updates(self):
        self.kale.enqueue("kale.sleep", {"ms": 500}, "q1", "--count", "20")
        self.kale.enqueue("kale.sleep", {"ms": 10}, "q2", "--count", "5", "--delay", "1h")
        d = self.driver
        d.get(self.base + "/")
        # Nothing runs yet: the page's counts are Redis' exactly (LLEN/ZCARD through redis-py).
        self.assertEqual(self.page_counts("q1"), self.redis_counts("q1"))
        self.assertEqual(self.page_counts("q2"), self.redis_counts("q2"))
        self.assertEqual(self.page_counts("q1")["pending"], 20)
        self.assertEqual(self.page_counts("q2")["scheduled"], 5)
        d.execute_script("window.__mark = 1")
        navigations = d.execute_script("return performance.getEntriesByType('navigation').length")
        self.ensure_worker()
        # The counts move without a reload: tasks start and pending drains.
        wait_until(lambda: (cell(d, "q1", "running") or 0) > 0 and cell(d, "q1", "pending") < 20,
                   timeout=20, what="the overview to show q1's tasks running")
        self.assertEqual(d.execute_script("return document.querySelector('[data-workers-online]').dataset.count"), "1")
        screenshot(d, "overview-running")
        # While they run, each count the page shows is one Redis had a second ago at most:
        # never more running than the worker's concurrency, never more pending than before.
        # ("running" counts leases, prefetched ones included, so it is not bounded by the concurrency.)
        last_pending = 20
        for _ in range(5):
            p = self.page_counts("q1")
            self.assertLessEqual(p["pending"] + p["running"], 20)
            self.assertLessEqual(p["pending"], last_pending, "pending grew while nothing was enqueued")
            last_pending = p["pending"]
            time.sleep(0.4)
        wait_until(lambda: cell(d, "q1", "pending") == 0 and cell(d, "q1", "running") == 0, timeout=40,
                   what="q1 to drain on the page")
        self.assertEqual(self.page_counts("q1"), self.redis_counts("q1"))
        self.assertEqual(self.page_counts("q2"), self.redis_counts("q2"))
        self.assertEqual(d.execute_script("return window.__mark"), 1, "the page was reloaded")
        self.assertEqual(d.execute_script("return performance.getEntriesByType('navigation').length"), navigations)
        self.assertIn("live", d.find_element(By.ID, "live-status").text)
        # The history the workers wrote: the 20 runs are in the last hour's charts and table
        # (the dashboard reads the history at most every 10 s).
        def history_row():
            d.refresh()
            return [c.text for c in d.find_element(By.CSS_SELECTOR, "#history tbody tr").find_elements(By.TAG_NAME, "td")]
        row = wait_until(lambda: (lambda r: r if r[2] == "20" else None)(history_row()), timeout=15, interval=2,
                         what="the history table to count the 20 runs")
        self.assertEqual(row[:2], ["every queue", "1 h"])
        self.assertNotEqual(row[5], "–", "no run-time p50")
        self.assertGreater(len(d.find_elements(By.CSS_SELECTOR, "#chart-throughput-hour polyline")), 0)
        status, _, fragment = http(self.base + "/fragments/history")
        self.assertEqual(status, 200)
        self.assertIn('id="history-panel"', fragment)
        screenshot(d, "overview")

    def test_02_task_progress_moves(self):
        self.ensure_worker()
        (task_id,) = self.kale.enqueue("kale.sleep", {"ms": 5000}, "q1")
        d = self.driver
        d.get(f"{self.base}/tasks/{task_id}?queue=q1")
        d.execute_script("window.__mark = 2")
        read = "var p = document.getElementById('task-progress'); return p.hasAttribute('value') ? p.value : null"
        # The page opened while the task may still wait for a runner; sampling starts with its first report.
        samples = [wait_until(lambda: d.execute_script(read), timeout=20, what="the first progress report")]
        for i in range(5):
            time.sleep(0.9)
            samples.append(d.execute_script(read))
            if i == 1:
                screenshot(d, "task")  # mid-run: the bar part-filled
        rises = sum(1 for a, b in zip(samples, samples[1:]) if b is not None and a is not None and b > a)
        self.assertGreaterEqual(rises, 3, f"progress samples {samples}; record {self.record('q1', task_id)}")
        self.assertEqual(d.execute_script("return window.__mark"), 2)
        wait_until(lambda: self.record("q1", task_id).get("state") == "succeeded", what="the sleep to end")

    def test_03_dead_search_finds_by_error_text_and_retry_reruns(self):
        self.ensure_worker()
        needle = "needle-" + uuid.uuid4().hex
        (task_id,) = self.kale.enqueue("kale.fail", {"message": needle}, "q1", "--retries", "0")
        (other,) = self.kale.enqueue("kale.fail", {"message": "haystack-" + uuid.uuid4().hex}, "q1", "--retries", "0")
        self.wait_dead("q1", task_id)
        self.wait_dead("q1", other)
        d = self.driver
        login(d, self.base, "/dead")
        box = d.find_element(By.CSS_SELECTOR, "#dead-search input[name=text]")
        box.clear()
        box.send_keys(needle)
        d.find_element(By.CSS_SELECTOR, "#dead-search button[type=submit]").click()
        wait_until(lambda: needle in d.current_url, what="the search to run")
        rows = [r.get_attribute("data-task") for r in d.find_elements(By.CSS_SELECTOR, "#dead tbody tr")]
        self.assertEqual(rows, [task_id])
        self.assertIn(needle, d.find_element(By.ID, "dead").text)
        screenshot(d, "dead")

        before = self.record("q1", task_id)
        started = lambda: [e["kind"] for e in json.loads(http(f"{self.base}/api/events?task={task_id}&queue=q1")[2])].count("started")
        started_before = started()
        d.get(f"{self.base}/tasks/{task_id}?queue=q1")
        d.find_element(By.XPATH, "//button[normalize-space()='Retry']").click()
        wait_until(lambda: "notice=requeued" in d.current_url, what="the retry to redirect back")
        # It runs again: a new start and a new end, and kale.fail sends it back to the dead set.
        wait_until(lambda: int(self.record("q1", task_id).get("finished_at", 0)) > int(before["finished_at"]), timeout=30,
                   what="the retried task to run again")
        self.wait_dead("q1", task_id)
        after = self.record("q1", task_id)
        self.assertGreater(int(after["started_at"]), int(before["started_at"]))
        self.assertEqual(after["attempt"], "1", "a dead retry gives a fresh set of attempts and this one ran")
        self.assertEqual(started(), started_before + 1, "no new started event")

    def test_04_task_text_is_escaped_everywhere(self):
        args = {"a": XSS_A, "b": XSS_B}
        (pending_id,) = self.kale.enqueue("kale.echo", args, "q3")  # no worker serves q3: it stays pending
        (named_id,) = self.kale.enqueue("x" + XSS_A, args, "q3")
        self.ensure_worker()
        (dead_id,) = self.kale.enqueue("kale.fail", {"message": XSS_A + XSS_B}, "q1", "--retries", "0")
        self.wait_dead("q1", dead_id)
        d = self.driver
        pages = [f"/tasks/{pending_id}?queue=q3", f"/tasks/{named_id}?queue=q3", "/queues/q3?state=pending",
                 f"/tasks/{dead_id}?queue=q1", "/dead?text=" + "window.__x", "/queues/q1?state=dead"]
        for path in pages:
            d.get(self.base + path)
            time.sleep(0.3)  # an injected handler would have run by now
            self.assertEqual(d.execute_script("return typeof window.__x"), "undefined", path)
            self.assertEqual(d.find_elements(By.CSS_SELECTOR, "img"), [], path)
            scripts = [s.get_attribute("src") for s in d.find_elements(By.TAG_NAME, "script")]
            self.assertEqual(scripts, [self.base + "/assets/app.js"], path)
            text = d.find_element(By.TAG_NAME, "main").text
            self.assertTrue(XSS_A in text or "x" + XSS_A in text, f"{path} does not show the literal text")
        d.get(f"{self.base}/tasks/{pending_id}?queue=q3")
        self.assertEqual(json.loads(d.find_element(By.ID, "task-args").text), args)

    def test_05_actions_need_token_same_origin_and_csrf(self):
        (task_id,) = self.kale.enqueue("kale.noop", {}, "q3")
        url = f"{self.base}/api/tasks/{task_id}/cancel"
        status, _, body = http(url, "POST", body={})
        self.assertEqual(status, 401, body)
        status, _, body = http(url, "POST", body={}, headers={"Authorization": "Bearer wrong-token-000000"})
        self.assertEqual(status, 401, body)
        status, _, body = http(url, "POST", body={}, headers={"Authorization": "Bearer " + TOKEN, "Origin": "http://evil.example"})
        self.assertEqual(status, 403, body)
        # A browser form: the token in the form, but no CSRF field and cookie.
        status, _, body = http(url, "POST", form={"token": TOKEN, "queue": "q3"})
        self.assertEqual(status, 403, body)
        self.assertIn("CSRF", body)
        self.assertTrue(body.startswith("<!doctype html>"), "a refused form gets a page, not JSON")
        # A CSRF field that is not this browser's cookie.
        status, _, body = http(url, "POST", form={"token": TOKEN, "csrf": "a" * 64},
                               headers={"Cookie": "kale_csrf=" + "b" * 64})
        self.assertEqual(status, 403, body)
        self.assertEqual(self.record("q3", task_id)["state"], "pending", "a refused action changed the task")
        # DNS rebinding: a page of this loopback dashboard asked for under another name needs the token.
        self.assertEqual(http(self.base + "/", headers={"Host": "rebound.example"})[0], 401)
        self.assertEqual(http(self.base + "/api/overview", headers={"Host": "rebound.example"})[0], 401)
        self.assertEqual(http(self.base + "/", headers={"Host": "localhost:1"})[0], 200)
        status, _, body = http(url, "POST", body={}, headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["outcome"], "cancelled")
        self.assertEqual(self.record("q3", task_id)["state"], "cancelled")

    def test_06_enqueue_api_validates_and_waits(self):
        self.ensure_worker()
        auth = {"Authorization": "Bearer " + TOKEN}
        status, _, body = http(self.base + "/api/tasks", "POST", body={"name": "kale.echo", "args": {"n": 1}})
        self.assertEqual(status, 401, body)
        status, _, body = http(self.base + "/api/tasks", "POST", headers=auth,
                               body={"name": "kale.echo", "args": {"hello": "wörld"}, "queue": "q1", "wait": 30})
        self.assertEqual(status, 200, body)
        task = json.loads(body)
        self.kale.enqueued[task["id"]] = "q1"
        self.assertEqual((task["state"], task["result"]), ("succeeded", {"hello": "wörld"}))
        status, _, body = http(self.base + "/api/tasks", "POST", headers=auth, body={"name": "kale.noop", "queue": "q3", "max_retries": 0})
        self.assertEqual(status, 201, body)
        created = json.loads(body)
        self.kale.enqueued[created["id"]] = "q3"
        self.assertEqual(self.record("q3", created["id"])["max_retries"], "0")
        for bad, needle in [({"name": "kale.echo", "colour": "red"}, "unknown field 'colour'"),
                            ({"name": "kale.echo", "args_json": "{bad"}, "is not valid JSON"),
                            ({"name": "kale.echo", "priority": "urgent"}, "unknown priority 'urgent'"),
                            ({"name": "kale.echo", "delay": 5, "eta": "2030-01-01T00:00:00Z"}, "cannot be used together"),
                            ({"name": "kale.echo", "queue": "no spaces"}, "not a valid queue name"),
                            ({"args": {}}, "name"),
                            (b"{not json", "not valid JSON")]:
            status, _, body = http(self.base + "/api/tasks", "POST", headers=auth, body=bad)
            self.assertEqual(status, 400, f"{bad}: {body}")
            self.assertIn(needle, json.loads(body)["error"], bad)

    def test_07_json_api_has_the_cli_shapes(self):
        (task_id,) = self.kale.enqueue("kale.noop", {"k": "v"}, "q3")
        status, _, body = http(self.base + "/api/overview")
        self.assertEqual(status, 200)
        overview = json.loads(body)
        cli = json.loads(self.kale.cli("inspect", "overview", "--json").stdout)
        self.assertEqual({q["queue"] for q in overview["queues"]}, {q["queue"] for q in cli["queues"]})
        self.assertEqual(set(overview["queues"][0]), set(cli["queues"][0]))
        status, _, body = http(f"{self.base}/api/tasks/{task_id}?queue=q3")
        self.assertEqual(json.loads(body), json.loads(self.kale.cli("inspect", "task", task_id, "--json").stdout))
        status, _, body = http(self.base + "/api/queues/q3/tasks?state=pending")
        page = json.loads(body)
        self.assertIn(task_id, [t["id"] for t in page["tasks"]])
        self.assertEqual(page["total"], self.redis_counts("q3")["pending"])
        status, _, body = http(self.base + "/api/openapi.json")
        self.assertEqual(json.loads(body)["openapi"], "3.1.0")

    def test_08_dead_selection_all_matching_and_one_row(self):
        self.ensure_worker()
        tag = "bulk-" + uuid.uuid4().hex
        ids = [self.kale.enqueue("kale.fail", {"message": f"{tag} {i}"}, "q1", "--retries", "0")[0] for i in range(4)]
        for i in ids:
            self.wait_dead("q1", i)
        d = self.driver
        login(d, self.base, "/dead?text=" + tag)
        rows = lambda: [r.get_attribute("data-task") for r in d.find_elements(By.CSS_SELECTOR, "#dead tbody tr")]
        self.assertEqual(sorted(rows()), sorted(ids))
        # A selection of one (checkbox), purged.
        # Marked purged before the click: if the test fails after the purge, the audit must not
        # report the task as lost (it checks instead that a purged task is nowhere).
        self.kale.purged.add(ids[0])
        d.find_element(By.CSS_SELECTOR, f"#dead input[type=checkbox][value='q1/{ids[0]}']").click()
        d.find_element(By.XPATH, "//button[normalize-space()='Purge selected']").click()
        wait_until(lambda: "deleted 1 dead task" in notice(d), what="the purge notice")
        self.assertFalse(self.server.client.exists(self.key("q1", "t:" + ids[0])), "the record of a purged task is left")
        wait_until(lambda: sorted(rows()) == sorted(ids[1:]), what="the purged row to leave")
        # One row's own button.
        self.kale.purged.add(ids[1])
        d.find_element(By.CSS_SELECTOR, f"#dead tr[data-task='{ids[1]}'] button.danger").click()
        wait_until(lambda: "deleted 1 dead task" in notice(d) and ids[1] not in rows(), what="the row purge")
        # Every match: the two left are retried (and die again, as kale.fail does).
        before = {i: self.record("q1", i)["finished_at"] for i in ids[2:]}
        d.find_element(By.XPATH, "//button[normalize-space()='Retry all 2 matching']").click()
        wait_until(lambda: "requeued 2 dead tasks" in notice(d), what="the retry notice")
        for i in ids[2:]:
            wait_until(lambda: self.record("q1", i).get("finished_at") != before[i] and
                       self.server.client.zscore(self.key("q1", "dead"), i) is not None, timeout=30, what=f"{i} to rerun")

    def test_09_queue_pages_and_name_filter(self):
        self.kale.enqueue("kale.noop", {}, "q4", "--count", "57")
        special = self.kale.enqueue("special.report", {}, "q4", "--count", "3")
        d = self.driver
        d.get(self.base + "/queues/q4")
        rows = lambda: [r.get_attribute("data-task") for r in d.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")]
        self.assertEqual(len(rows()), 50)
        # Position 1 is the next to run: the oldest (workers pop from the tail).
        self.assertEqual(rows()[0], self.server.client.lindex(self.key("q4", "pending:normal"), -1))
        d.find_element(By.LINK_TEXT, "next →").click()
        self.assertEqual(len(rows()), 10)
        self.assertEqual(set(rows()[-3:]), set(special))
        d.get(self.base + "/queues/q4?state=pending&name=SPECIAL")
        self.assertEqual(sorted(rows()), sorted(special))
        self.assertIn("3 matching", d.find_element(By.CSS_SELECTOR, ".summary").text)

    def test_09b_a_paused_queue_is_marked(self):
        self.kale.enqueue("kale.noop", {}, "q9")
        self.kale.cli("queue", "pause", "q9")
        d = self.driver
        d.get(self.base + "/")
        row = d.find_element(By.CSS_SELECTOR, "tr[data-queue-row='q9']")
        self.assertEqual(row.find_element(By.CSS_SELECTOR, "[data-paused]").text, "paused")
        self.kale.cli("queue", "resume", "q9")
        d.get(self.base + "/")
        row = d.find_element(By.CSS_SELECTOR, "tr[data-queue-row='q9']")
        self.assertEqual(row.find_elements(By.CSS_SELECTOR, "[data-paused]"), [])

    def test_09c_a_workflow_page_shows_its_tree_and_escapes_what_tasks_supply(self):
        self.ensure_worker()
        import tempfile
        doc = {"chain": [{"task": "kale.echo", "args": {"n": 1}, "queue": "q1"},
                         {"group": [{"task": "kale.echo", "queue": "q1"}, {"task": "<b>bad</b>", "queue": "q2", "retries": 0}]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        out = self.kale.cli("workflow", "submit", f.name, "--wait", "--json", "--timeout", "30s", check=False).stdout
        os.unlink(f.name)
        wf = json.loads(out)
        self.assertEqual(wf["state"], "failed")
        for path, queue in (("0", "q1"), ("1.0", "q1"), ("1.1", "q2")):
            self.kale.enqueued[f"{wf['id']}:{path}"] = queue
        d = self.driver
        d.get(f"{self.base}/workflows/{wf['id']}")
        section = d.find_element(By.ID, "workflow")
        self.assertEqual(section.get_attribute("data-state"), "failed")
        states = {li.get_attribute("data-path"): li.get_attribute("data-state") for li in d.find_elements(By.CSS_SELECTOR, "li.step")}
        self.assertEqual(states["0"], "succeeded")
        self.assertEqual(states["1.1"], "dead")
        self.assertIn(states["1.0"], ("succeeded", "cancelled"))
        # The task name a document supplied is text, not markup.
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, "#workflow b"), [])
        self.assertIn("<b>bad</b>", section.text)
        status, _, body = http(f"{self.base}/api/workflows/{wf['id']}")
        api = json.loads(body)
        self.assertEqual(api, json.loads(self.kale.cli("workflow", "show", wf["id"], "--json").stdout))
        # A step's task page links back to its workflow.
        d.find_element(By.CSS_SELECTOR, "li.step[data-path='0'] a").click()
        link = d.find_element(By.CSS_SELECTOR, "a[data-field='workflow']")
        self.assertEqual(link.text, wf["id"])

    def test_10_workers_children_and_child_deaths(self):
        self.ensure_worker()
        (crash,) = self.kale.enqueue("kale.crash", {"how": "abort"}, "q1", "--retries", "0")
        self.wait_dead("q1", crash)
        d = self.driver
        # A heartbeat carries the death (every third of the lease): reload until it shows.
        def deaths():
            d.get(self.base + "/workers")
            return [r.text for r in d.find_elements(By.XPATH, "//h3[.='Recent child deaths']/following-sibling::table[1]//tbody/tr")]
        rows = wait_until(deaths, timeout=30, interval=1, what="the child death on the workers page")
        self.assertTrue(any(crash in r for r in rows), rows)
        children = d.find_elements(By.XPATH, "//h3[.='Children']/following-sibling::table[1]//tbody/tr")
        self.assertEqual(len(children), 2, "one row per child of --concurrency 2")
        for row in children:
            pid = int(row.find_elements(By.TAG_NAME, "td")[1].text)
            os.kill(pid, 0)  # a live process: raises if the page shows a stale pid
            self.assertRegex(row.find_elements(By.TAG_NAME, "td")[2].text, r"^\d+\.\d MiB$")
        workers = json.loads(http(self.base + "/api/workers")[2])
        self.assertEqual(len(workers[0]["children"]), 2)
        self.assertTrue(any(x.get("task") == crash for x in workers[0]["recent_deaths"]))
        events = json.loads(http(f"{self.base}/api/events?task={crash}&queue=q1")[2])
        # A death is always in the stream; its enqueued and started only if a live view
        # watched q1 then (earlier tests' pages may have, within their 15 s).
        kinds = [e["kind"] for e in events]
        self.assertEqual(kinds[-1], "dead")
        self.assertTrue(set(kinds[:-1]) <= {"enqueued", "started"}, kinds)
        d.get(f"{self.base}/tasks/{crash}?queue=q1")
        self.assertEqual([r.get_attribute("data-event") for r in d.find_elements(By.CSS_SELECTOR, "#events tbody tr")],
                         [e["kind"] for e in events])

    def test_11_metrics_are_the_fleet_gauges_of_redis(self):
        self.ensure_worker()
        self.kale.enqueue("kale.noop", {}, "q3", "--count", "7", "--priority", "high")
        status, headers, text = http(self.base + "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(text) for s in f.samples}
        for q in sorted(set(self.kale.enqueued.values())):
            for state, n in self.redis_counts(q).items():
                if state == "running":
                    continue  # it moves while the worker runs q1 and q2
                self.assertEqual(samples[("kale_queue_tasks", (("queue", q), ("state", state)))], n, (q, state))
        self.assertEqual(samples[("kale_queue_pending_tasks", (("priority", "high"), ("queue", "q3")))],
                         self.server.client.llen(self.key("q3", "pending:high")))
        self.assertGreater(samples[("kale_queue_oldest_pending_age_seconds", (("queue", "q3"),))], 0)
        self.assertEqual(samples[("kale_workers_online", ())], 1)

    def test_12_overview_streams_lifecycle_events(self):
        self.ensure_worker()
        d = self.driver
        d.get(self.base + "/")
        d.execute_script("window.__mark = 12")
        # The live view marks the queues watched; a worker learns of it within 2 s (it asks
        # every 2 s), and only then writes the frequent events (docs/observability.md).
        time.sleep(2.5)
        (task_id,) = self.kale.enqueue("kale.echo", {"text": XSS_A}, "q1")
        kinds = lambda: [r.get_attribute("data-event") for r in d.find_elements(By.CSS_SELECTOR, "#recent-events tbody tr")
                         if r.get_attribute("data-task") == task_id]
        wait_until(lambda: {"enqueued", "started", "succeeded"} <= set(kinds()), timeout=15, what="the task's events on the overview")
        self.assertEqual(d.execute_script("return window.__mark"), 12, "the page was reloaded")
        self.assertEqual(d.execute_script("return typeof window.__x"), "undefined")
        link = d.find_element(By.CSS_SELECTOR, f"#recent-events tr[data-task='{task_id}'] a")
        self.assertEqual(link.get_attribute("href"), f"{self.base}/tasks/{task_id}?queue=q1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
