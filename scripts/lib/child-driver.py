"""Runs a Kale pool child by itself and feeds it tasks, for scripts/order-file.sh.

usage: KALE_DRIVER_TASKS=N python3 child-driver.py COMMAND...   (COMMAND is the child's command
line, e.g. valgrind ... kale-bench worker ...). Speaks the supervisor's side of the pipes:
frames on stdin/stdout (Sources/KaleWorker/Frame.swift), stop requests on descriptor 3.
"""
import json, os, struct, subprocess, sys, time, uuid

def main():
    control_read, control_write = os.pipe()
    # The child reads stop requests from descriptor 3. Put the pipe there in this process:
    # Popen closes every other descriptor after a preexec_fn would have run.
    if control_write == 3:
        control_write = os.dup(3)
        os.close(3)
    if control_read != 3:
        os.dup2(control_read, 3)
        os.close(control_read)
    env = dict(os.environ, KALE_CHILD="1", SWIFT_BACKTRACE="enable=no")
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, pass_fds=(3,))
    os.close(3)

    def read_frame():
        head = child.stdout.read(5)
        if len(head) < 5:
            sys.exit("child-driver: the child closed its output")
        length = struct.unpack(">I", head[:4])[0]
        return head[4:5], child.stdout.read(length - 1)

    def send(kind, payload):
        child.stdin.write(struct.pack(">I", len(payload) + 1) + kind + payload)
        child.stdin.flush()

    kind, _ = read_frame()
    if kind != b"H":
        sys.exit(f"child-driver: expected hello, got {kind!r}")
    tasks = int(os.environ.get("KALE_DRIVER_TASKS", "200"))
    for i in range(tasks):
        message = json.dumps({"v": 1, "id": str(uuid.uuid4()), "name": ["kale.noop", "kale.echo"][i % 2],
                              "queue": "bench", "args": {"pad": "x" * 120, "i": i},
                              "enqueued_at": int(time.time() * 1000)}).encode()
        send(b"R", struct.pack(">qqq", 1, -1, 0) + message)  # attempt 1, no soft time limit, no trace
        kind, body = read_frame()
        if kind != b"S":
            sys.exit(f"child-driver: task {i} did not succeed: {kind!r} {body[:200]!r}")
    child.stdin.close()
    child.wait()
    os.close(control_write)
    if child.returncode != 0:
        sys.exit(f"child-driver: the child exited with {child.returncode}")

main()
