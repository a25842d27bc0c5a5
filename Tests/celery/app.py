"""The Celery app the bridge tests use: an unmodified Celery 5 client and worker on the test's
Redis. Each test gets its own key prefix (kombu's and the result backend's global_keyprefix),
so tests sharing one redis-server never see each other's queues."""
import os

from celery import Celery

url = os.environ["KALE_TEST_REDIS_URL"]
prefix = os.environ.get("KALE_TEST_CELERY_PREFIX", "")

app = Celery("kaletest", broker=url, backend=url)
if prefix:
    app.conf.broker_transport_options = {"global_keyprefix": prefix}
    app.conf.result_backend_transport_options = {"global_keyprefix": prefix}


# Stubs for tasks that Kale workers run: declared so apply_async and signatures work as in a
# Python codebase that moved these tasks to Swift. Never run in Python.
@app.task(name="kale.echo")
def echo(**kwargs):
    raise RuntimeError("kale.echo runs on Kale workers")


@app.task(name="kale.add")
def add_stub(x, y):
    raise RuntimeError("kale.add runs on Kale workers")


# Tasks that the Python worker runs (Swift producer -> Celery worker).
@app.task(name="py.noop")
def py_noop():
    """The Celery worker's side of `kale-bench celery`: the same no-op as kale.noop (its pid)."""
    return os.getpid()


@app.task(name="py.add")
def py_add(x, y):
    return x + y


@app.task(name="py.boom")
def py_boom(message):
    raise ValueError(message)


@app.task(name="py.record")
def py_record(value, tag):
    """A callback target: stores what it was called with, for the test to read."""
    import redis

    redis.Redis.from_url(url).set(prefix + "recorded:" + tag, repr(value))
    return value
