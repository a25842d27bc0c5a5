"""Drives an unmodified Celery 5 client for the bridge tests (Tests/KaleWorkerTests/CeleryBridgeTests.swift).

Usage: bridge.py SCENARIO [ARGS...]; prints one JSON object per line. Exceptions raised by
.get() are reported as {"raised": type, "module": module, "message": str(e)}."""
import json
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from app import app, echo, add_stub  # noqa: E402
from celery import chain  # noqa: E402
from celery.result import AsyncResult  # noqa: E402


def out(**kw):
    print(json.dumps(kw, ensure_ascii=False), flush=True)


def outcome(result, timeout=20):
    try:
        return {"value": result.get(timeout=timeout), "state": result.state}
    except Exception as e:  # noqa: BLE001 - the test asserts on the type
        return {"raised": type(e).__name__, "module": type(e).__module__, "message": str(e), "state": result.state}


def basic():
    text = "héllo wörld ✓ 日本語 🥬"
    out(send_task=outcome(app.send_task("kale.echo", kwargs={"text": text})))
    out(apply_async=outcome(echo.apply_async(kwargs={"text": text, "n": 1})))
    out(positional=outcome(add_stub.delay(2, 3)))
    out(too_many=outcome(app.send_task("kale.add", args=(1, 2, 3))))
    out(tagged=outcome(app.send_task("kale.echo", kwargs={
        "when": __import__("datetime").datetime(2026, 12, 1, 10, 0, 0),
        "price": __import__("decimal").Decimal("9.99"),
        "uid": __import__("uuid").UUID("6f1c2d4e-0000-4000-8000-000000000001"),
        "nan": float("nan"), "inf": float("inf")})))
    out(failure=outcome(app.send_task("kale.fail", kwargs={"message": "Swift says nö"})))
    t = time.time()
    out(unknown=outcome(app.send_task("no.such.task"), timeout=5), seconds=time.time() - t)
    out(expired=outcome(app.send_task("kale.echo", kwargs={"x": 1}, expires=-10)))
    out(time_limit=outcome(app.send_task("kale.spin", kwargs={"ms": 10000, "ignore_cancel": True}, time_limit=1)))


def many(n):
    results = [app.send_task("kale.echo", kwargs={"i": i}) for i in range(int(n))]
    values = [r.get(timeout=60) for r in results]
    out(ok=all(v == {"i": i} for i, v in enumerate(values)), count=len(values))


def send(name, kwargs, *options):
    """Sends one task and prints its id and the time (ms); options are key=json pairs."""
    opts = {k: json.loads(v) for k, v in (o.split("=", 1) for o in options)}
    r = app.send_task(name, kwargs=json.loads(kwargs), **opts)
    out(id=r.id, sent_ms=int(time.time() * 1000))


def send_many(name, kwargs, n):
    ids = [app.send_task(name, kwargs=json.loads(kwargs)).id for _ in range(int(n))]
    out(ids=ids)


def get(*ids):
    for i in ids:
        out(id=i, **outcome(AsyncResult(i, app=app), timeout=60))


def canvas():
    # link: the callback gets the result prepended (3 + 10).
    callback = app.signature("kale.add", args=(10,))
    callback.freeze()
    r = app.send_task("kale.add", args=(1, 2), link=callback)
    out(linked=outcome(r), callback=outcome(AsyncResult(callback.id, app=app)))
    # chain: each step's result feeds the next ((1 + 1) + 10) + 100.
    c = chain(add_stub.s(1, 1), add_stub.s(10), add_stub.s(100)).apply_async()
    out(chain=outcome(c), parent=outcome(c.parent))
    # link_error: the errback gets the failed task's id.
    errback = app.signature("kale.echo")
    errback.freeze()
    r = app.send_task("kale.fail", kwargs={"message": "for the errback"}, link_error=errback)
    out(failed=outcome(r), id=r.id, errback=outcome(AsyncResult(errback.id, app=app)))
    # a chord header cannot run on Kale: refused with a clear failure, never ignored.
    from celery import chord
    c = chord([add_stub.s(1, 1)], add_stub.s(0)).apply_async()
    # c.get() re-raises the header's error first (as Celery does); the body's own result, read
    # alone, must be there too (ChordError), or a waiter on the body id would wait for ever.
    out(chord=outcome(c.parent.results[0] if c.parent else c, timeout=10),
        body=outcome(AsyncResult(c.id, app=app), timeout=10), body_via_chord=outcome(c, timeout=10))


def mixed():
    """A chain that crosses fleets: Kale, then a Python worker (queue py), then Kale again."""
    c = chain(add_stub.s(1, 1), app.signature("py.add", args=(10,)), add_stub.s(100)).apply_async()
    out(chain=outcome(c, timeout=60))


def events(count):
    """Listens to Celery's event channel with Celery's own Receiver and State (as Flower does)
    while `count` tasks run; prints the workers it saw and the tasks' states."""
    import threading

    from celery.events.state import State

    state = State()
    n = int(count)
    results = []

    def send():
        time.sleep(1.0)
        rs = [app.send_task("kale.echo", kwargs={"i": i}) for i in range(n)]
        rs.append(app.send_task("kale.fail", kwargs={"message": "seen by Flower"}))
        for r in rs:
            results.append(outcome(r))

    sender = threading.Thread(target=send)
    with app.connection() as conn:
        recv = app.events.Receiver(conn, handlers={"*": state.event})

        def done():
            # Task events alone also make State list a worker: wait for a heartbeat of Kale's
            # (sw_ident) that counts every task, sent after they all ended.
            finished = [t for t in state.tasks.values() if t.state in ("SUCCESS", "FAILURE")]
            beats = [w for w in state.workers.values() if w.sw_ident == "kale" and (w.processed or 0) >= n + 1]
            return len(finished) >= n + 1 and beats and not sender.is_alive()

        it = recv.itercapture(limit=None, timeout=2.5, wakeup=False)
        sender.start()
        deadline = time.time() + 30
        for _ in it:
            if done() or time.time() > deadline:
                break
    sender.join()
    out(workers={h: {"alive": w.alive, "active": w.active, "processed": w.processed, "sw_ident": w.sw_ident}
                 for h, w in state.workers.items()},
        tasks={t.uuid: {"state": t.state, "name": t.name} for t in state.tasks.values()},
        results=results)


def control():
    """Celery's remote control, as `celery inspect` and Flower ask it."""
    i = app.control.inspect(timeout=2.0)
    out(ping=i.ping(), registered=i.registered(), active_queues=i.active_queues(), stats=i.stats(),
        unknown=i.scheduled())


def buckets(queue):
    import redis
    from app import prefix, url

    rc = redis.Redis.from_url(url)
    sep = "\x06\x16"
    out(lengths=[rc.llen(prefix + queue + ("" if p == 0 else sep + str(p))) for p in (0, 3, 6, 9)])


if __name__ == "__main__":
    globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
