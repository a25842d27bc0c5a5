"""The Celery side of `kale-bench peers`: sends N `py.noop` tasks to a queue, one
send_task() each (Celery has no bulk send), and prints the seconds it took. Run from
Tests/celery's app (KALE_TEST_REDIS_URL names the server):
    python celery_push.py N QUEUE"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "celery"))
from app import app  # noqa: E402

count, queue = int(sys.argv[1]), sys.argv[2]
started = time.monotonic()
with app.producer_or_acquire() as producer:
    for _ in range(count):
        app.send_task("py.noop", queue=queue, producer=producer)
print(time.monotonic() - started)
