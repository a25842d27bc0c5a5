"""The real processes the dashboard tests run against: a redis-server of their own, a Kale worker,
a dashboard, and headless Chromium. Everything started here is stopped by its pid.

Nothing is mocked: the tests drive the binaries built by scripts/test-dashboard.sh."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import redis
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KALE = os.path.join(ROOT, ".build", "debug", "kale")
DASHBOARD = os.path.join(ROOT, ".build", "debug", "kale-full")
OUTPUT = os.path.join(ROOT, ".test-output", "dashboard")
TOKEN = "dash-token-" + uuid.uuid4().hex


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout=20.0, interval=0.1, what="condition"):
    """Polls `check` until it returns something truthy; fails with `what` after `timeout` seconds.

    An element that went stale or is not there yet (the page was replaced by a redirect or a
    live update between finding it and reading it) counts as "not yet", not as a failure."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (StaleElementReferenceException, NoSuchElementException) as e:
            last = type(e).__name__
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def stop(process, sig=signal.SIGTERM, timeout=10):
    """Stops one process we started, by its pid: `sig`, then SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    os.kill(process.pid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


class RedisServer:
    """A redis-server on a free loopback port (never 6379) in a temp dir, optionally with a password."""

    def __init__(self, password=None):
        self.dir = tempfile.mkdtemp(prefix="kale-test-redis-dash-")
        self.port = free_port()
        self.password = password
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.dir]
        if password:
            args += ["--requirepass", password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(host="127.0.0.1", port=self.port, password=password, decode_responses=True)
        wait_until(self._ping, what="redis-server to answer PING")

    def _ping(self):
        try:
            return self.client.ping()
        except redis.exceptions.ConnectionError:
            return False

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def close(self):
        stop(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


class Kale:
    """The kale binaries against one Redis under one key prefix; remembers every id it enqueued."""

    def __init__(self, server, prefix=None):
        self.server = server
        self.prefix = prefix or "t" + uuid.uuid4().hex[:10]
        self.env = dict(os.environ, KALE_REDIS_URL=server.url)
        self.env.pop("KALE_DASHBOARD_TOKEN", None)
        self.enqueued = {}  # id -> queue
        self.purged = set()
        self.processes = []

    def cli(self, *args, check=True):
        r = subprocess.run([KALE, *args, "--prefix", self.prefix], env=self.env, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kale {args} exited {r.returncode}: {r.stderr}")
        return r

    def enqueue(self, name, args, queue="default", *options):
        out = self.cli("enqueue", name, "--args", json.dumps(args), "--queue", queue, "--json", *options).stdout
        ids = [json.loads(line)["id"] for line in out.splitlines() if line.strip()]
        for i in ids:
            self.enqueued[i] = queue
        return ids

    def worker(self, queues, concurrency=2):
        p = subprocess.Popen([KALE, "worker", "--diagnostics", "--concurrency", str(concurrency), "--queues", queues,
                              "--prefix", self.prefix], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(p)
        wait_until(lambda: self.server.client.zcard(f"{self.prefix}:workers") > 0, what="the worker to register")
        return p

    def dashboard(self, *args, token=None, token_file=None, env=None, wait=True):
        """Starts kale-full; returns (process, base URL). stderr is kept in a file for the secrets check."""
        port = free_port()
        environment = dict(env or self.env)
        if token:
            environment["KALE_DASHBOARD_TOKEN"] = token
        errors = tempfile.NamedTemporaryFile(prefix="kale-dash-stderr-", delete=False)
        cmd = [DASHBOARD, "--port", str(port), "--prefix", self.prefix, *args]
        if token_file:
            cmd += ["--token-file", token_file]
        p = subprocess.Popen(cmd, env=environment, stdout=subprocess.DEVNULL, stderr=errors)
        p.stderr_path = errors.name
        self.processes.append(p)
        bind = args[args.index("--bind") + 1] if "--bind" in args else "127.0.0.1"
        base = f"http://{bind}:{port}"
        if wait:
            wait_until(lambda: p.poll() is not None or http(base + "/healthz")[0] == 200, what="the dashboard to listen")
            if p.poll() is not None:
                raise AssertionError(f"kale-full exited {p.returncode}: {stderr_of(p)}")
        return p, base

    def close(self):
        for p in reversed(self.processes):
            stop(p)

    def audit(self, test):
        """No task lost: every id enqueued is in exactly one of pending/scheduled/running/dead, or
        has ended (its record says succeeded, failed, cancelled or expired), unless a test purged it."""
        queues = sorted(set(self.enqueued.values()))
        pipe = self.server.client.pipeline(transaction=True)  # one atomic snapshot
        for q in queues:
            for p in ("high", "normal", "low"):
                pipe.lrange(f"{self.prefix}:{{{q}}}:pending:{p}", 0, -1)
            for s in ("scheduled", "active", "dead"):
                pipe.zrange(f"{self.prefix}:{{{q}}}:{s}", 0, -1)
        ids = sorted(self.enqueued)
        for i in ids:
            pipe.hget(f"{self.prefix}:{{{self.enqueued[i]}}}:t:{i}", "state")
        replies = pipe.execute()
        places = {}
        for k, q in enumerate(queues):
            for where, members in zip(("pending", "pending", "pending", "scheduled", "running", "dead"), replies[k * 6:(k + 1) * 6]):
                for m in members:
                    places.setdefault(m, []).append(where)
        states = dict(zip(ids, replies[len(queues) * 6:]))
        for i in ids:
            where = places.get(i, [])
            if i in self.purged:
                test.assertEqual(where, [], f"purged task {i} is still in {where}")
                continue
            test.assertLessEqual(len(where), 1, f"task {i} is in {where} at once")
            if not where:
                test.assertIn(states[i], ("succeeded", "failed", "cancelled", "expired"),
                              f"task {i} is in no list or set, and its record says {states[i]!r}: lost")
        return len(ids)


def stderr_of(process):
    with open(process.stderr_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def http(url, method="GET", body=None, headers=None, form=None):
    """(status, headers, text) of one request, without following redirects."""
    data = None
    headers = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with opener.open(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0, {}, ""


def browser():
    """Debian's chromium, headless, through its own chromedriver: Selenium Manager never downloads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--window-size=1280,900", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def screenshot(driver, name):
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, name + ".png")
    driver.save_screenshot(path)
    return path


def login(driver, base, next_path="/"):
    driver.get(base + "/login?next=" + next_path)
    driver.find_element(By.NAME, "token").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    wait_until(lambda: "/login" not in driver.current_url, what="the login to redirect")


def notice(driver):
    """The notice an action's redirect shows, or "" (also while the next page is still loading)."""
    found = driver.find_elements(By.ID, "notice")
    try:
        return found[0].text if found else ""
    except Exception:  # noqa: BLE001 - the element went stale as the page changed
        return ""


def cell(driver, queue, state):
    for el in driver.find_elements(By.CSS_SELECTOR, "[data-queue][data-state]"):
        if el.get_attribute("data-queue") == queue and el.get_attribute("data-state") == state:
            return int(el.get_attribute("data-count"))
    return None
