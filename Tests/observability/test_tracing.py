"""Tracing end to end: a producer's span, the worker's run span and the child's execute span
share one trace, read back from a real OTLP/HTTP receiver (otlp_receiver.py) that decodes what
swift-otel exported from the real kale-full processes. A Celery message's traceparent carries
the trace of a Python service into the Swift task.

Run by scripts/test-dashboard.sh after kale-full is built."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "dashboard"))
from harness import DASHBOARD, ROOT, RedisServer, free_port, http, stop, wait_until  # noqa: E402

FULL = DASHBOARD  # kale-full: the CLI with the OTLP exporter
PYTHON = os.path.join(ROOT, ".venv-test", "bin", "python")
PRODUCER, INTERNAL, CONSUMER = 4, 1, 5  # OTLP SpanKind values
STATUS_ERROR = 2


class Tracing(unittest.TestCase):
    def setUp(self):
        self.redis = RedisServer()
        self.prefix = "tr" + uuid.uuid4().hex[:10]
        self.spans_path = tempfile.mktemp(prefix="kale-spans-", suffix=".jsonl")
        self.receiver = subprocess.Popen([PYTHON, os.path.join(HERE, "otlp_receiver.py"), self.spans_path],
                                         stdout=subprocess.PIPE, text=True)
        port = int(self.receiver.stdout.readline())
        self.env = dict(os.environ, KALE_REDIS_URL=self.redis.url, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
                        OTEL_BSP_SCHEDULE_DELAY="100")
        self.processes = []

    def tearDown(self):
        for p in reversed(self.processes):
            stop(p)
        stop(self.receiver)
        self.receiver.stdout.close()
        self.redis.close()
        if os.path.exists(self.spans_path):
            os.unlink(self.spans_path)

    def worker(self, *extra):
        p = subprocess.Popen([FULL, "worker", "--diagnostics", "--concurrency", "2", "--prefix", self.prefix, *extra],
                             env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(p)
        wait_until(lambda: self.redis.client.zcard(f"{self.prefix}:workers") > 0, what="the worker to register")
        return p

    def kale(self, *args):
        r = subprocess.run([FULL, *args, "--prefix", self.prefix], env=self.env, capture_output=True, text=True, timeout=60)
        return r

    def spans(self):
        if not os.path.exists(self.spans_path):
            return []
        with open(self.spans_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def finish(self, worker):
        # A warm stop retires the children, which flush their spans before they exit.
        stop(worker)

    def test_one_trace_from_producer_through_the_worker_into_its_child(self):
        worker = self.worker("--queues", "traced")
        r = self.kale("enqueue", "kale.echo", "--queue", "traced", "--args", '{"value":"traced"}', "--wait", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        task_id = json.loads(r.stdout)["id"]
        self.finish(worker)
        spans = wait_until(lambda: (s := self.spans()) and len([x for x in s if x["name"].startswith("kale.")]) >= 3 and s,
                           what="three spans at the receiver")
        by_name = {s["name"]: s for s in spans}
        enqueue, run, execute = by_name["kale.enqueue kale.echo"], by_name["kale.run kale.echo"], by_name["kale.execute kale.echo"]
        self.assertEqual(enqueue["kind"], PRODUCER)
        self.assertEqual(run["kind"], CONSUMER)
        self.assertEqual(execute["kind"], INTERNAL)
        self.assertEqual({enqueue["trace_id"], run["trace_id"], execute["trace_id"]}, {enqueue["trace_id"]}, "one trace id")
        self.assertEqual(run["parent_span_id"], enqueue["span_id"])
        self.assertEqual(execute["parent_span_id"], run["span_id"])
        self.assertEqual(enqueue["service"], "kale-enqueue")
        self.assertEqual(run["service"], "kale-worker")
        self.assertEqual(run["attributes"]["messaging.message.id"], task_id)
        self.assertEqual(run["attributes"]["messaging.destination.name"], "traced")
        self.assertEqual(run["attributes"]["kale.outcome"], "succeeded")
        self.assertEqual(run["attributes"]["kale.attempt"], 1)
        # The handler ran in a child process, not in the supervisor.
        self.assertNotEqual(execute["attributes"]["process.pid"], worker.pid)

    def test_each_attempt_is_a_run_span_and_retries_are_events(self):
        worker = self.worker("--queues", "traced")
        r = self.kale("enqueue", "kale.fail", "--queue", "traced", "--args", '{"message":"traced failure"}', "--retries", "2",
                      "--wait", "--timeout", "30s")
        self.assertNotEqual(r.returncode, 0)
        self.finish(worker)
        runs = wait_until(lambda: len(r := [s for s in self.spans() if s["name"] == "kale.run kale.fail"]) >= 3 and r,
                          what="three run spans")
        self.assertEqual(len({s["trace_id"] for s in runs}), 1, "every attempt belongs to the producer's trace")
        runs.sort(key=lambda s: s["attributes"]["kale.attempt"])
        self.assertEqual([s["attributes"]["kale.attempt"] for s in runs], [1, 2, 3])
        self.assertEqual([s["attributes"]["kale.outcome"] for s in runs], ["retrying", "retrying", "dead"])
        self.assertEqual([len([e for e in s["events"] if e["name"] == "kale.retry"]) for s in runs], [1, 1, 0])
        self.assertEqual(runs[2]["status"], STATUS_ERROR)
        self.assertEqual(runs[0]["events"][0]["attributes"]["error.type"], "Failure")

    def test_an_http_callers_traceparent_continues_through_post_api_tasks(self):
        worker = self.worker("--queues", "default")
        token = "trace-token-" + uuid.uuid4().hex
        port = free_port()
        dash = subprocess.Popen([FULL, "dashboard", "--port", str(port), "--prefix", self.prefix],
                                env=dict(self.env, KALE_DASHBOARD_TOKEN=token), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(dash)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http(base + "/healthz")[0] == 200, what="the dashboard to listen")
        trace_id, parent = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        status, _, body = http(base + "/api/tasks", method="POST",
                               body=json.dumps({"name": "kale.echo", "args": {"via": "http"}, "wait": 20}).encode(),
                               headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                        "traceparent": f"00-{trace_id}-{parent}-01"})
        self.assertEqual(status, 200, body)
        stop(dash)
        self.finish(worker)
        spans = wait_until(lambda: (s := self.spans()) and any(x["name"] == "kale.execute kale.echo" for x in s)
                           and any(x["name"] == "kale.enqueue kale.echo" for x in s) and s, what="the spans of the HTTP enqueue")
        enqueue = next(s for s in spans if s["name"] == "kale.enqueue kale.echo")
        self.assertEqual(enqueue["trace_id"], trace_id, "the HTTP caller's trace")
        server = next(s for s in spans if s["span_id"] == enqueue["parent_span_id"])
        self.assertEqual(server["parent_span_id"], parent, "the server span is the caller's child")
        run = next(s for s in spans if s["name"] == "kale.run kale.echo")
        self.assertEqual(run["trace_id"], trace_id)

    def test_a_celery_messages_traceparent_continues_in_the_swift_task(self):
        celery_prefix = self.prefix + "-celery:"
        worker = self.worker("--celery-queues", "celery", "--celery-broker-prefix", celery_prefix,
                             "--celery-result-prefix", celery_prefix)
        trace_id, parent = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        env = dict(self.env, KALE_TEST_REDIS_URL=self.redis.url, KALE_TEST_CELERY_PREFIX=celery_prefix)
        bridge = os.path.join(ROOT, "Tests", "celery", "bridge.py")
        sent = subprocess.run([PYTHON, bridge, "send", "kale.echo", '{"from":"python"}',
                               "headers=" + json.dumps({"traceparent": f"00-{trace_id}-{parent}-01"})],
                              env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(sent.returncode, 0, sent.stderr)
        task_id = json.loads(sent.stdout)["id"]
        got = subprocess.run([PYTHON, bridge, "get", task_id], env=env, capture_output=True, text=True, timeout=90)
        self.assertEqual(json.loads(got.stdout)["value"], {"from": "python"}, got.stderr)
        self.finish(worker)
        run = wait_until(lambda: next((s for s in self.spans() if s["name"] == "kale.run kale.echo"), None),
                         what="the bridged task's run span")
        self.assertEqual(run["trace_id"], trace_id, "the Python service's trace")
        self.assertEqual(run["parent_span_id"], parent)
        execute = wait_until(lambda: next((s for s in self.spans() if s["name"] == "kale.execute kale.echo"), None),
                             what="the child's span")
        self.assertEqual(execute["trace_id"], trace_id)


if __name__ == "__main__":
    unittest.main()
