"""The client of `kale-bench celery` (Sources/KaleBench/CeleryBench.swift): an unmodified Celery 5
client timing one worker, whichever serves the queue (Kale's or Celery's own).

Usage: bench.py TASK QUEUE TASKS ROUND_TRIPS PROCESSES
Prints one JSON object: the send and total seconds of TASKS tasks sent at once, then each of
ROUND_TRIPS sequential send_task().get() in ms, and the pids that ran them (TASK returns its pid).
"""
import json
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import celery  # noqa: E402
from app import app  # noqa: E402


def main(task, queue, tasks, round_trips, processes):
    tasks, round_trips, processes = int(tasks), int(round_trips), int(processes)

    def call():
        return app.send_task(task, queue=queue)

    # Warm up until every worker process has run a task: the first get waits out the worker's
    # start (the message waits in the queue meanwhile), later rounds reach the other children.
    warm_pids = {call().get(timeout=120)}
    for _ in range(20):
        if len(warm_pids) >= processes:
            break
        warm_pids |= {r.get(timeout=60) for r in [call() for _ in range(20)]}
        for _ in range(20):
            call().get(timeout=60)

    start = time.perf_counter()
    results = [call() for _ in range(tasks)]
    sent = time.perf_counter()
    pids = {r.get(timeout=300) for r in results}
    done = time.perf_counter()

    samples = []
    for _ in range(round_trips):
        t = time.perf_counter()
        pids.add(call().get(timeout=60))
        samples.append((time.perf_counter() - t) * 1000)

    print(json.dumps({
        "celery": celery.__version__,
        "python": sys.version.split()[0],
        "warmup_pids": len(warm_pids),
        "tasks": tasks,
        "send_seconds": sent - start,
        "seconds": done - start,
        "round_trips_ms": samples,
        "pids": len(pids),
    }), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
