"""The dashboard's security model against the real binary: --read-only, exposed binds and the
login, the kale launcher, and no Redis password in any page or log (docs/dashboard.md)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

from selenium.webdriver.common.by import By

from harness import KALE, TOKEN, Kale, RedisServer, browser, http, login, stderr_of, stop, wait_until


class ReadOnlyTests(unittest.TestCase):
    def test_read_only_refuses_every_action_and_renders_no_buttons(self):
        server = RedisServer()
        kale = Kale(server)
        driver = None
        try:
            _, base = kale.dashboard("--read-only", token=TOKEN)
            (task_id,) = kale.enqueue("kale.fail", {"message": "ro"}, "q1", "--retries", "0")
            worker = kale.worker("q1")
            wait_until(lambda: server.client.zscore(f"{kale.prefix}:{{q1}}:dead", task_id) is not None, what="the task to die")
            auth = {"Authorization": "Bearer " + TOKEN}
            for path, body in [(f"/api/tasks/{task_id}/retry", {}), (f"/api/tasks/{task_id}/cancel", {}),
                               ("/api/dead/retry", {"all": True}), ("/api/dead/purge", {"all": True}),
                               ("/api/tasks", {"name": "kale.noop"})]:
                status, _, text = http(base + path, "POST", body=body, headers=auth)
                self.assertEqual(status, 403, f"{path}: {text}")
            self.assertIsNotNone(server.client.zscore(f"{kale.prefix}:{{q1}}:dead", task_id))
            driver = browser()
            login(driver, base)
            for path in ["/", f"/tasks/{task_id}?queue=q1", "/dead", "/queues/q1?state=dead", "/workers"]:
                driver.get(base + path)
                actions = driver.find_elements(By.CSS_SELECTOR, "form[method=post]:not([action='/logout']), button.action, button.danger")
                self.assertEqual(actions, [], path)
            self.assertIn("<span class=\"badge\">read-only</span>", driver.page_source)
            kale.processes.remove(worker)
            stop(worker)
            kale.audit(self)
        finally:
            if driver:
                driver.quit()
            kale.close()
            server.close()


class BindAndSecretTests(unittest.TestCase):
    def test_exposed_bind_needs_a_token_and_asks_for_it(self):
        server = RedisServer()
        kale = Kale(server)
        try:
            # 127.0.0.2 is not one of 127.0.0.1, ::1, localhost, so it counts as exposed (and is still only this host).
            p, _ = kale.dashboard("--bind", "127.0.0.2", wait=False)
            self.assertEqual(p.wait(20), 2)
            err = stderr_of(p).strip().splitlines()
            self.assertTrue(err[0].startswith("kale: error: --bind 127.0.0.2 is not a loopback address"), err)
            _, base = kale.dashboard("--bind", "127.0.0.2", token=TOKEN)
            status, _, body = http(base + "/")
            self.assertEqual(status, 401)
            self.assertIn('name="token"', body)
            self.assertEqual(http(base + "/api/overview")[0], 401)
            self.assertEqual(http(base + "/api/overview", headers={"Authorization": "Bearer " + TOKEN})[0], 200)
            driver = browser()
            try:
                driver.get(base + "/workers")
                self.assertIn("needs its token", driver.page_source)
                driver.find_element(By.NAME, "token").send_keys(TOKEN)
                driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
                wait_until(lambda: driver.current_url.endswith("/workers") and driver.find_element(By.TAG_NAME, "h1").text == "Workers",
                           what="the login to go back to /workers")
                cookie = driver.get_cookie("kale_session")
                self.assertTrue(cookie["httpOnly"])
                self.assertEqual(cookie["sameSite"], "Strict")
            finally:
                driver.quit()
        finally:
            kale.close()
            server.close()

    def test_kale_dashboard_runs_the_sibling_binary_or_says_how_to_build_it(self):
        # Through the core kale: execv of kale-full, whose exit code and error come back.
        r = subprocess.run([KALE, "dashboard", "--bind", "127.0.0.2", "--port", "1"], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "KALE_DASHBOARD_TOKEN"}, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("is not a loopback address", r.stderr)
        # A kale with no kale-full beside it: one error line, the build hint, exit 2.
        with tempfile.TemporaryDirectory() as lonely:
            copy = os.path.join(lonely, "kale")
            shutil.copy(KALE, copy)
            r = subprocess.run([copy, "dashboard", "--port", "1"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 2, lines)
            self.assertTrue(lines[0].startswith("kale: error: the dashboard is a separate binary"), lines)
            self.assertIn("swift build --product kale-full", lines[1])

    def test_no_page_or_log_shows_the_redis_password(self):
        password = "pw-" + uuid.uuid4().hex
        server = RedisServer(password=password)
        kale = Kale(server)  # the password reaches kale through KALE_REDIS_URL only
        try:
            dash, base = kale.dashboard(token=TOKEN)
            (task_id,) = kale.enqueue("kale.noop", {}, "q1")
            paths = ["/", "/workers", "/dead", "/queues/q1", f"/tasks/{task_id}?queue=q1", "/tasks/nope?queue=q1",
                     "/api/overview", f"/api/tasks/{task_id}", "/api/dead", "/login", "/api/queues/q1/tasks"]
            for path in paths:
                status, headers, body = http(base + path)
                self.assertIn(status, (200, 404), path)
                self.assertNotIn(password, body + json.dumps(headers), path)
            self.assertIn("127.0.0.1:%d" % server.port, http(base + "/")[2])
            # Redis goes away: the error pages must not name the password either.
            stop(server.process)
            for path in ["/", "/api/overview"]:
                status, _, body = http(base + path)
                self.assertEqual(status, 503, path)
                self.assertNotIn(password, body)
            stop(dash)
            self.assertNotIn(password, stderr_of(dash))
            self.assertIn("kale dashboard: http://127.0.0.1:", stderr_of(dash))
        finally:
            kale.close()
            server.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
