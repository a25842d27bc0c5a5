import CKaleSystem
import Foundation
import Glibc
public import Kale
import Synchronization

/// The child side of the process pool: reads tasks from stdin, runs them, answers on stdout.
///
/// A worker executable becomes a child when started with `KALE_CHILD=1` (the supervisor
/// does that); it must build the same ``TaskRegistry`` as the supervisor, which it does by
/// running the same code path with the same arguments.
public enum ChildRuntime {
    /// Whether this process was started as a pool child.
    public static var isChild: Bool { ProcessInfo.processInfo.environment["KALE_CHILD"] == "1" }

    /// Serves tasks until stdin closes, then exits the process.
    ///
    /// The thread that reads the task pipe also runs the task (``ChildExecutor``): handing
    /// each task to Swift's pool cost a thread wake-up per task, 30–50 µs on a VM whose other
    /// vCPU had gone idle. Stop requests therefore come on a second pipe, read on a control
    /// thread that also notices the supervisor's end while a task keeps the loop busy.
    public static func run(registry: TaskRegistry) -> Never {
        // Every descriptor kept here is close-on-exec: a subprocess a task starts (system(),
        // popen(), Foundation's Process) inherits none of them. Holding the frame pipe, it
        // would hide this child's death from the supervisor for as long as it lived. It gets
        // /dev/null for stdin and our stderr for both outputs.
        // /dev/null first, while 0-3 are taken: opened after the moves it would land on 0.
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let frames = kale_move_cloexec(1)
        let tasks = kale_move_cloexec(0)
        let control = kale_move_cloexec(3)
        guard frames >= 0, tasks >= 0, control >= 0, null >= 0 else {
            complain("cannot set up the pipes to the supervisor: \(String(cString: strerror(errno)))")
            _exit(70)
        }
        // Frames own the real stdout. Anything a task prints goes to stderr instead, so a
        // stray print() can never corrupt the frame stream.
        dup2(2, 1)
        dup2(null, 0)
        close(null)
        let writer = FrameWriter(fd: frames)
        let current = CurrentRun()
        startControlThread(current, fd: control)
        // After the control thread started, so its stack counts as what the idle child holds.
        limitMemory()
        writer.send(Frame(.hello, Frame.int64(Int64(getpid()))))
        let executor = ChildExecutor()
        var reader = FrameReader(fd: tasks)
        var runs: UInt32 = 0
        while true {
            executor.runPending()
            guard executor.waitForInput(on: tasks) else { continue }
            // stdin closed: the supervisor is retiring us, or it died. Either way, leave.
            guard let frame = reader.next() else { leave() }
            guard frame.kind == .run else { continue }
            runs &+= 1
            let p = frame.payload
            let traceLength = p.count >= 24 ? Int(Frame.int64(p[p.startIndex + 16..<p.startIndex + 24])) : -1
            guard traceLength >= 0, traceLength <= p.count - 24 else {
                // Only the supervisor writes here; a short frame means a mismatched binary.
                writer.fail(.rejected("the run frame is \(p.count) bytes, too short for its header", type: "MalformedFrame"))
                continue
            }
            let attempt = Int(Frame.int64(p[p.startIndex..<p.startIndex + 8]))
            let softMs = Frame.int64(p[p.startIndex + 8..<p.startIndex + 16])
            let trace = ChildRuntime.traceHeaders(p[p.startIndex + 24..<p.startIndex + 24 + traceLength])
            let message = Array(p[(p.startIndex + 24 + traceLength)...])
            start(message: message, attempt: attempt, softMs: softMs, trace: trace, run: runs, registry: registry,
                  writer: writer, current: current, executor: executor)
        }
    }

    /// One line on stderr, which the supervisor forwards to its log.
    private static func complain(_ text: String) {
        let line = Array("kale-child: \(text)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Ends the child without running exit handlers twice when two threads see the end.
    ///
    /// Called when a pipe from the supervisor closes: it retires this child, or it died
    /// (kill -9 included). Whatever a task started must not outlive the child, and no one
    /// else will kill this process group now, so the whole group gets SIGKILL, this process
    /// with it: it is leaving anyway. Either thread may see the end first. Only a child that
    /// leads its own group does so (the pool spawns it so); any other would hit its parent's.
    /// Set by the first thread to leave: the main loop and the control thread can both get
    /// here, and the second must not kill the group while the first still flushes.
    private static let leaving = Atomic<Bool>(false)

    static func leave() -> Never {
        if leaving.exchange(true, ordering: .sequentiallyConsistent) {
            while true { pause() }
        }
        ProcessExit.runBlocking()
        fflush(nil)
        if getpgrp() == getpid() { kill(0, SIGKILL) }
        _exit(0)
    }

    /// The environment variable that carries the memory ceiling to a child, in bytes.
    static let memoryLimitKey = "KALE_CHILD_MEMORY_LIMIT"

    /// Makes an allocation beyond the pool's memory ceiling fail in this child, between the
    /// supervisor's samples of its resident memory too.
    ///
    /// RLIMIT_DATA, set to what the idle child holds plus the ceiling: it counts committed
    /// private writable memory, which is what a task's allocations grow. RLIMIT_AS would
    /// count reservations as well: an idle child maps 230 MiB (release) to 365 MiB (debug) of
    /// address space, libraries and malloc arenas, but has only ~37 MiB of data and 22-25 MiB
    /// resident (measured, Swift 6.3), so an address-space limit near the ceiling would refuse
    /// the child memory it never uses. A cgroup's memory.max would need a delegated cgroup v2 subtree that the worker
    /// cannot count on. Subprocesses a task starts inherit the limit.
    private static func limitMemory() {
        guard let text = ProcessInfo.processInfo.environment[memoryLimitKey], let ceiling = Int64(text), ceiling > 0 else { return }
        if kale_limit_data(ceiling) < 0 {
            complain("cannot limit memory (\(String(cString: strerror(errno)))); only sampling applies")
        }
    }

    /// Reads stop requests from the control pipe, and leaves when it closes: the supervisor
    /// retired this child, or died (even by SIGKILL: the kernel closes its end). A CPU-bound
    /// task holds the loop's thread, and must not outlive the supervisor that would never
    /// read its result. No PR_SET_PDEATHSIG: it fires when the supervisor *thread* that
    /// spawned the child ends, and spawns happen on Swift's pool threads.
    private static func startControlThread(_ current: CurrentRun, fd: Int32) {
        let thread = Thread {
            var control = FrameReader(fd: fd)
            while let frame = control.next() {
                if frame.kind == .stop, let request = StopRequest(payload: frame.payload) { current.stop(request) }
            }
            leave()
        }
        thread.name = "kale-child-control"
        thread.start()
    }

    /// The W3C headers of a run frame's trace part ("traceparent\ntracestate", or empty).
    private static func traceHeaders(_ bytes: ArraySlice<UInt8>) -> [String: String] {
        guard !bytes.isEmpty else { return [:] }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var headers = ["traceparent": String(lines[0])]
        if lines.count > 1, !lines[1].isEmpty { headers["tracestate"] = String(lines[1]) }
        return headers
    }

    private static func start(message: [UInt8], attempt: Int, softMs: Int64, trace: [String: String], run number: UInt32,
                              registry: TaskRegistry,
                              writer: FrameWriter, current: CurrentRun, executor: ChildExecutor) {
        let envelope: Envelope
        do { envelope = try KaleJSONFormat().decode(message) }
        catch {
            writer.fail(.rejected("the child could not decode the message: \(error)", type: "MalformedMessage"))
            return
        }
        guard let handler = registry.handler(named: envelope.name) else {
            writer.fail(.rejected("unknown task '\(envelope.name)' in the child process", type: "UnknownTask"))
            return
        }
        let run = HandlerRun(
            handler: handler, envelope: envelope, attempt: attempt,
            softTimeLimit: softMs >= 0 ? .milliseconds(softMs) : nil, executor: executor, trace: trace,
            progress: { fraction, text in
                writer.send(Frame(.progress, Frame.int64(Int64(bitPattern: fraction.bitPattern)) + Array((text ?? "").utf8)))
            })
        current.begin(number, run)
        Task(executorPreference: executor) {
            let outcome = await run.outcome()
            current.end()
            switch outcome {
            case .succeeded(let bytes):
                writer.send(Frame(.success, bytes))
            case .failed(let failure):
                writer.fail(failure)
            case .notStarted(let why):
                writer.fail(TaskFailure(kind: .crashed, type: "NotStarted", message: why))
            }
        }
    }
}

/// Serializes frame writes from the task and the progress reporter.
private final class FrameWriter: Sendable {
    private let fd: Mutex<Int32>

    init(fd: Int32) { self.fd = Mutex(fd) }

    func send(_ frame: Frame) {
        fd.withLock { fd in
            // The supervisor is gone if this fails; stdin EOF will end us shortly.
            _ = frame.write(to: fd)
        }
    }

    func fail(_ failure: TaskFailure) {
        send(Frame(.failure, (try? JSONEncoder().encode(failure)).map { Array($0) } ?? []))
    }
}

/// The run in progress, shared by the main loop and the control thread (stop requests).
private final class CurrentRun: Sendable {
    private struct State {
        var number: UInt32 = 0
        var run: HandlerRun?
        /// A request for a run not read yet (it overtook its run frame on the other pipe).
        var early: StopRequest?
    }

    private let state = Mutex(State())

    func begin(_ number: UInt32, _ run: HandlerRun) {
        let early = state.withLock { s -> StopRequest? in
            s.number = number
            s.run = run
            defer { s.early = nil }
            return s.early?.run == number ? s.early : nil
        }
        if let early { run.stop(early.reason) }
    }

    func end() { state.withLock { $0.run = nil } }

    func stop(_ request: StopRequest) {
        let run = state.withLock { s -> HandlerRun? in
            if request.run == s.number { return s.run }
            s.early = request
            return nil
        }
        run?.stop(request.reason)
    }
}

/// Runs the child's tasks on the thread that reads the task pipe.
///
/// Most jobs are enqueued by that thread itself while it drains (a task starting, an await
/// that completes at once) and need no wake-up. Only a job enqueued while the thread sleeps
/// in `poll` writes the eventfd: a write per job would have cost a syscall on every step of
/// every task.
private final class ChildExecutor: TaskExecutor {
    private struct State {
        var jobs: [UnownedJob] = []
        var sleeping = false
    }

    private let state = Mutex(State())
    private let wake = kale_eventfd()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let wakeUp = state.withLock { s -> Bool in
            s.jobs.append(job)
            defer { s.sleeping = false }
            return s.sleeping
        }
        guard wakeUp else { return }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    /// Runs every queued job, including those the jobs enqueue.
    func runPending() {
        while true {
            let batch = state.withLock { s -> [UnownedJob] in
                defer { s.jobs.removeAll(keepingCapacity: true) }
                return s.jobs
            }
            if batch.isEmpty { return }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }

    /// Sleeps until `fd` is readable (or closed) or a job arrives; true when `fd` is.
    func waitForInput(on fd: Int32) -> Bool {
        let idle = state.withLock { s -> Bool in
            s.sleeping = s.jobs.isEmpty
            return s.sleeping
        }
        guard idle else { return false }
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        let ready = poll(&fds, 2, -1) > 0
        state.withLock { $0.sleeping = false }
        if ready, fds[1].revents != 0 {
            var count: UInt64 = 0
            _ = read(wake, &count, 8)
        }
        return ready && fds[0].revents != 0
    }
}
