"""The reviewer's findings against the real kale-full: crashes from oversized numbers, reverse
proxies, cross-site requests, slow and large requests, what a visitor without the token sees,
redirects, and the CSRF token's tie to the login session (docs/dashboard.md, "Security model").
Each test failed before its fix."""
import json
import re
import socket
import time
import unittest
import urllib.parse

from harness import TOKEN, Kale, RedisServer, http, stderr_of, wait_until

BIG = "9223372036854775807"  # Int.max: offset + page size used to trap
AUTH = {"Authorization": "Bearer " + TOKEN}


def raw(base, request, send_more=b"", timeout=5.0):
    """Sends `request` (bytes) on a fresh connection and returns (seconds, first bytes of the answer).
    The answer is b"" when the server closed without one, None when nothing came within `timeout`."""
    host, port = urllib.parse.urlsplit(base).netloc.rsplit(":", 1)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        try:
            s.sendall(request + send_more)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            data = s.recv(65536)
        except socket.timeout:
            data = None
        except ConnectionResetError:
            data = b""
    return time.monotonic() - started, data


def status_of(answer):
    m = re.match(rb"HTTP/1\.1 (\d{3})", answer or b"")
    return int(m.group(1)) if m else None


class Browser:
    """A cookie jar over harness.http, for the login and form flows a browser would run."""

    def __init__(self, base):
        self.base = base
        self.cookies = {}

    def request(self, path, method="GET", form=None, headers=None, origin=True):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if origin and method == "POST":
            headers.setdefault("Origin", self.base)
        status, response_headers, body = http(self.base + path, method, form=form, headers=headers)
        for name, value in response_headers.items():
            if name.lower() == "set-cookie":
                k, v = value.split(";", 1)[0].split("=", 1)
                self.cookies[k] = v
        return status, response_headers, body

    @staticmethod
    def csrf(page):
        return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)

    def login(self):
        _, _, page = self.request("/login")
        status, _, _ = self.request("/login", "POST", form={"token": TOKEN, "csrf": self.csrf(page), "next": "/"})
        assert status == 303 and "kale_session" in self.cookies, status


class HardeningTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()
        cls.kale = Kale(cls.server)
        cls.dash, cls.base = cls.kale.dashboard(token=TOKEN)

    @classmethod
    def tearDownClass(cls):
        cls.kale.close()
        cls.server.close()

    def alive(self):
        self.assertEqual(http(self.base + "/healthz")[0], 200, "the dashboard died: " + stderr_of(self.dash)[-2000:])

    def test_huge_offsets_are_answered_and_do_not_crash(self):
        self.kale.enqueue("kale.noop", {}, "q1")
        for path in [f"/queues/q1?state=pending&offset={BIG}", f"/queues/q1?state=scheduled&offset={BIG}",
                     f"/queues/q1?state=dead&offset={BIG}&name=x", f"/api/queues/q1/tasks?state=running&offset={BIG}",
                     f"/api/queues/q1/tasks?state=pending&offset={BIG}&name=noop", f"/dead?offset={BIG}", f"/api/dead?offset={BIG}"]:
            status, _, _ = http(self.base + path)
            self.assertIn(status, (200, 400), path)
            self.alive()

    def test_forwarded_requests_need_the_token(self):
        self.assertEqual(http(self.base + "/")[0], 200, "a plain loopback request needs no token")
        for name, value in [("Forwarded", "for=203.0.113.9"), ("X-Forwarded-For", "203.0.113.9"),
                            ("X-Forwarded-Host", "kale.example"), ("X-Forwarded-Proto", "https"), ("X-Real-IP", "203.0.113.9")]:
            self.assertEqual(http(self.base + "/", headers={name: value})[0], 401, name)
            self.assertEqual(http(self.base + "/api/overview", headers={name: value})[0], 401, name)
            self.assertEqual(http(self.base + "/api/overview", headers={name: value, **AUTH})[0], 200, name)

    def test_require_token_protects_every_page_on_loopback(self):
        p, _ = self.kale.dashboard("--require-token", wait=False)
        self.assertEqual(p.wait(20), 2, "--require-token without a token must refuse to start")
        self.assertIn("--require-token", stderr_of(p))
        _, base = self.kale.dashboard("--require-token", token=TOKEN)
        status, _, body = http(base + "/")
        self.assertEqual(status, 401)
        self.assertIn('name="token"', body)
        self.assertEqual(http(base + "/api/overview")[0], 401)
        self.assertEqual(http(base + "/api/overview", headers=AUTH)[0], 200)
        self.assertEqual(http(base + "/healthz")[0], 200)

    def test_cross_site_subresource_requests_are_refused(self):
        for site, mode, dest in [("cross-site", "no-cors", "image"), ("same-site", "cors", "empty"), ("cross-site", "no-cors", "script")]:
            headers = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}
            for path in ["/dead?text=x", "/queues/q1?name=x", "/api/overview", "/live"]:
                self.assertEqual(http(self.base + path, headers=headers)[0], 403, f"{path} {headers}")
        # A link followed from another site, and the dashboard's own requests, still work.
        navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        self.assertEqual(http(self.base + "/dead?text=x", headers=navigate)[0], 200)
        own = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
        self.assertEqual(http(self.base + "/fragments/history", headers=own)[0], 200)

    def test_enqueue_refuses_out_of_range_numbers(self):
        for body, needle in [({"name": "kale.noop", "max_retries": 1e300}, "max_retries"),
                             ({"name": "kale.noop", "max_retries": -1e300}, "max_retries"),
                             ({"name": "kale.noop", "delay": 1e300}, "10 years"),
                             ({"name": "kale.noop", "time_limit": "1e300h"}, "10 years"),
                             ({"name": "kale.noop", "expires": 4e8}, "10 years")]:
            status, _, text = http(self.base + "/api/tasks", "POST", body=body, headers=AUTH)
            self.assertEqual(status, 400, f"{body}: {text}")
            self.assertIn(needle, json.loads(text)["error"], body)
            self.alive()
        r = self.kale.cli("enqueue", "kale.noop", "--delay", "1e300", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertTrue(lines[0].startswith("kale: error: ") and "--delay" in lines[0], lines)
        self.assertLessEqual(len(lines), 2, lines)
        self.assertIn("10 years", r.stderr)

    def test_idle_connections_are_closed_and_live_streams_ping(self):
        server_env = dict(self.kale.env, KALE_DASHBOARD_IDLE_TIMEOUT="2")
        _, base = self.kale.dashboard(env=server_env, token=TOKEN)
        seconds, answer = raw(base, b"", timeout=10)
        self.assertEqual(answer, b"", "an idle connection was not closed")
        self.assertLess(seconds, 6)
        # A task's live stream writes only when the task changes: the ping keeps it going.
        (task_id,) = self.kale.enqueue("kale.noop", {}, "idle-q")
        host = urllib.parse.urlsplit(base).netloc
        with socket.create_connection(tuple([host.rsplit(":", 1)[0], int(host.rsplit(":", 1)[1])]), timeout=10) as s:
            s.sendall(f"GET /live?task={task_id}&queue=idle-q HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            s.settimeout(1)
            got, deadline = b"", time.monotonic() + 5
            while time.monotonic() < deadline and b"\n: ping" not in got:
                try:
                    chunk = s.recv(4096)
                except socket.timeout:
                    continue
                self.assertNotEqual(chunk, b"", "the live stream was closed: " + got.decode(errors="replace"))
                got += chunk
            self.assertIn(b"event: task", got)
            self.assertIn(b"\n: ping", got)

    def test_unauthenticated_bodies_are_capped_before_they_are_read(self):
        host = urllib.parse.urlsplit(self.base).netloc
        for path, kind in [("/api/tasks", "application/json"), ("/login", "application/x-www-form-urlencoded"),
                           ("/api/dead/purge", "application/x-www-form-urlencoded")]:
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {1 << 20}\r\n\r\n").encode()
            # 64 KiB of the 1 MiB: the answer must come without the rest.
            seconds, answer = raw(self.base, head, send_more=b"a" * (64 << 10), timeout=5)
            self.assertIn(status_of(answer), (401, 403, 413), f"{path}: {answer!r}")
            self.assertLess(seconds, 4, path)
        self.alive()

    def test_no_redis_location_for_visitors_without_the_token(self):
        location = "127.0.0.1:%d" % self.server.port
        _, base = self.kale.dashboard("--bind", "127.0.0.2", token=TOKEN)
        for path in ["/", "/login", "/dead"]:
            status, _, body = http(base + path)
            self.assertIn(status, (200, 401), path)
            self.assertNotIn(location, body, path)
        status, _, body = http(base + "/api/tasks/x/cancel", "POST", form={"queue": "q1"})
        self.assertEqual(status, 401)
        self.assertNotIn(location, body)
        # A rebound Host on the loopback dashboard is a visitor from outside too.
        status, _, body = http(self.base + "/", headers={"Host": "rebound.example"})
        self.assertEqual(status, 401)
        self.assertNotIn(location, body)
        self.assertIn(location, http(base + "/", headers=AUTH)[2], "the token holder sees where Redis is")
        self.assertIn(location, http(self.base + "/")[2], "so does a loopback visitor on a loopback dashboard")

    def test_login_redirects_only_to_this_dashboard(self):
        for target, expected in [("/\t/evil.example", "/"), ("/\\evil.example", "/"), ("//evil.example", "/"),
                                 ("/\n/evil.example", "/"), ("https://evil.example/", "/"), ("/ /evil.example", "/"),
                                 ("/workers?x=1", "/workers?x=1"), ("/", "/")]:
            b = Browser(self.base)
            _, _, page = b.request("/login")
            status, headers, _ = b.request("/login", "POST", form={"token": TOKEN, "csrf": Browser.csrf(page), "next": target})
            self.assertEqual(status, 303, repr(target))
            self.assertEqual(headers.get("Location"), expected, repr(target))

    def test_uncaught_errors_still_carry_the_security_headers(self):
        # A unique key held by a task that does not exist: the enqueue names that task, and
        # waiting for it finds no record (an error the route did not expect).
        self.server.client.set(f"{self.kale.prefix}:{{ghost-q}}:unique:k", "ghost-task")
        status, headers, _ = http(self.base + "/api/tasks", "POST", headers=AUTH,
                                  body={"name": "kale.noop", "queue": "ghost-q", "unique": "k", "wait": 1})
        self.assertGreaterEqual(status, 400)
        self.assertIn("frame-ancestors 'none'", headers.get("Content-Security-Policy", ""), (status, headers))
        self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff")
        self.alive()

    def test_dead_page_shows_only_known_notices(self):
        spoof = "Your session expired: call 555-0100"
        status, _, body = http(self.base + "/dead?notice=" + urllib.parse.quote(spoof))
        self.assertEqual(status, 200)
        self.assertNotIn("555-0100", body)
        self.assertIn("requeued 3 dead tasks", http(self.base + "/dead?notice=requeued.3")[2])

    def test_csrf_token_belongs_to_the_session_and_actions_need_an_origin(self):
        b = Browser(self.base)
        b.login()
        (task_id,) = self.kale.enqueue("kale.noop", {}, "csrf-q")
        action = f"/api/tasks/{task_id}/cancel"
        # A CSRF cookie planted by someone else (a sibling subdomain can set cookies), with the
        # matching field: the double submit matches, but it is not this session's token.
        planted = "c" * 64
        b.cookies["kale_csrf"] = planted
        status, _, body = b.request(action, "POST", form={"csrf": planted, "queue": "csrf-q"})
        self.assertEqual(status, 403, body)
        _, _, page = b.request("/")
        token = Browser.csrf(page)
        self.assertNotEqual(token, planted)
        # The session's token, but neither Origin nor Referer: refused.
        status, _, body = b.request(action, "POST", form={"csrf": token, "queue": "csrf-q"}, origin=False)
        self.assertEqual(status, 403, body)
        self.assertEqual(self.server.client.hget(f"{self.kale.prefix}:{{csrf-q}}:t:{task_id}", "state"), "pending")
        status, headers, body = b.request(action, "POST", form={"csrf": token, "queue": "csrf-q", "back": "/dead"})
        self.assertEqual(status, 303, body)
        self.assertEqual(self.server.client.hget(f"{self.kale.prefix}:{{csrf-q}}:t:{task_id}", "state"), "cancelled")
        self.kale.enqueued[task_id] = "csrf-q"
        # API calls with the bearer token send no Origin and need none.
        (other,) = self.kale.enqueue("kale.noop", {}, "csrf-q")
        self.assertEqual(http(self.base + f"/api/tasks/{other}/cancel", "POST", body={}, headers=AUTH)[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
