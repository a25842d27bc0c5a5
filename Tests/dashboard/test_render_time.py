"""The overview's render time with a big backlog: 1,000,000 pending ids and 10,000 dead tasks
with records. Counts come from LLEN/ZCARD, so / and /api/overview stay well under 200 ms.
Prints the figures (p50, p90) for docs/performance.md."""
import json
import statistics
import time
import unittest
import uuid

from harness import Kale, RedisServer, http

PENDING = 1_000_000
DEAD = 10_000


class RenderTimeTests(unittest.TestCase):
    def test_overview_renders_fast_with_a_million_pending(self):
        server = RedisServer()
        kale = Kale(server)
        try:
            r = server.client
            q = "big"
            r.sadd(f"{kale.prefix}:queues", q)
            pending = f"{kale.prefix}:{{{q}}}:pending:normal"
            pipe = r.pipeline(transaction=False)
            for start in range(0, PENDING, 10_000):
                pipe.lpush(pending, *(f"p{i}" for i in range(start, start + 10_000)))
            pipe.execute()
            now = int(time.time() * 1000)
            error = json.dumps({"kind": "error", "type": "Failure", "message": "boom"})
            pipe = r.pipeline(transaction=False)
            for i in range(DEAD):
                tid = f"d{i}-{uuid.uuid4().hex[:8]}"
                pipe.hset(f"{kale.prefix}:{{{q}}}:t:{tid}", mapping={"state": "dead", "name": "bulk.fail", "attempt": 1,
                                                                      "max_retries": 0, "prio": 1, "enqueued_at": now, "error": error})
                pipe.zadd(f"{kale.prefix}:{{{q}}}:dead", {tid: now - i})
            pipe.execute()
            self.assertEqual(r.llen(pending), PENDING)
            _, base = kale.dashboard()
            figures = {}
            for path in ["/", "/api/overview", "/queues/big?state=pending&offset=500000", "/dead?text=boom"]:
                t = time.perf_counter()
                http(base + path)  # the first read of the history (then cached 10 s)
                first = (time.perf_counter() - t) * 1000
                times = []
                for _ in range(21 if path in ("/", "/api/overview") else 5):
                    t = time.perf_counter()
                    status, _, body = http(base + path)
                    times.append((time.perf_counter() - t) * 1000)
                    self.assertEqual(status, 200, path)
                figures[path] = (statistics.median(times), sorted(times)[int(len(times) * 0.9)], first)
                if path == "/":
                    self.assertIn('data-count="1000000"', body)
                    self.assertIn('data-state="dead" data-count="10000"', body)
            for path, (p50, p90, first) in figures.items():
                print(f"\nrender time {path}: p50 {p50:.1f} ms, p90 {p90:.1f} ms, first {first:.1f} ms "
                      f"({PENDING:,} pending, {DEAD:,} dead)", end="")
            print()
            self.assertLess(figures["/"][0], 200)
            self.assertLess(figures["/api/overview"][0], 200)
            self.assertLess(figures["/"][2], 200, "even the first render, which reads a day of history")
            self.assertEqual(r.llen(pending), PENDING, "rendering changed the backlog")
        finally:
            kale.close()
            server.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
