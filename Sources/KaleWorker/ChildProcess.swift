import CKaleSystem
import Dispatch
import Foundation
import Glibc
import Kale
import Synchronization

/// The supervisor's side of one child process: spawn, frames, death.
///
/// A reader thread per child waits on its stdout for frames; EOF there (not a failed write,
/// which can succeed once after the child died) means the child is gone, and `waitpid`
/// then says how. A second thread keeps the tail of the child's stderr, for crash reports,
/// and forwards it to ours so the child's logs are not lost.
///
/// Each child leads its own process group (``kale_spawn``), so a kill reaches the
/// subprocesses its task started too. The terminal's Ctrl-C then reaches only the
/// supervisor, which stops its children itself; a supervisor that is killed outright is
/// noticed by each child through EOF on its control pipe (see ``ChildRuntime``).
///
/// Writes to a child block SIGPIPE on the writing thread while they last (``Frame/write(to:)``),
/// so a child that died can never kill the process around the pool, and an application that
/// embeds ``Worker`` keeps whatever SIGPIPE disposition it chose.
final class ChildProcess: Sendable {
    private struct State {
        var current: CheckedContinuation<Outcome, Never>?
        var progress: (@Sendable (Double, String?) -> Void)?
        /// Why the supervisor killed the child, when it did.
        var killCause: TaskFailure?
        /// Set the moment the child is known to have exited, before anything else is done
        /// about it, so no task is sent to it from then on.
        var death: String?
        /// The child has been reaped: its pid, and so its process group id, may now belong
        /// to someone else and must not be signalled.
        var reaped = false
        /// A run frame is being written. If the child dies meanwhile, the writer settles the
        /// run: only it knows whether the frame got through.
        var sending = false
        /// How the run ends if the writer learns its frame got through to a child that died.
        var failureOnDeath: TaskFailure?
        var ready: CheckedContinuation<Bool, Never>?
        var isReady = false
        var stderrTail: [UInt8] = []
        var currentTask: String?
        /// Run frames sent so far: the child counts them too, and a stop request names the
        /// run it is for (see ``StopRequest``).
        var runs: UInt32 = 0

        /// Ends the current run: its continuation, for the caller to resume outside the lock.
        mutating func takeCurrent() -> CheckedContinuation<Outcome, Never>? {
            let c = current
            current = nil
            progress = nil
            currentTask = nil
            return c
        }
    }

    let pid: pid_t
    let startedAt = Date()
    private let input: Int32
    /// Stop requests: the child reads them on a thread of its own, since the thread that reads
    /// `input` is the one running the task.
    private let control: Int32
    private let output: Int32
    private let errors: Int32
    /// The ceiling the child enforces on its own allocations, in bytes; nil for none.
    private let memoryLimit: Int?
    /// Signalled when the child's stderr reaches EOF: its last words are then all read.
    private let errorsDone = DispatchSemaphore(value: 0)
    private let state = Mutex(State())
    /// Whether `input` is open. Writes and the close hold it, so a write never lands on a
    /// descriptor number that was closed and reused.
    private let inputOpen = Mutex(true)

    private init(pid: pid_t, input: Int32, control: Int32, output: Int32, errors: Int32, memoryLimit: Int?) {
        self.pid = pid
        self.input = input
        self.control = control
        self.output = output
        self.errors = errors
        self.memoryLimit = memoryLimit
    }

    /// Spawns `executable` with `arguments` and `KALE_CHILD=1` in its environment.
    ///
    /// - Parameters:
    ///   - environment: added to this process's environment (e.g. the Redis URL, which must
    ///     not travel in `arguments`: any user of the host can read those in `ps`).
    ///   - memoryLimit: bytes the child may allocate beyond what it holds when it starts;
    ///     it sets the limit on itself (``ChildRuntime``).
    /// - Throws: ``KaleError`` when the executable cannot be started.
    static func spawn(executable: String, arguments: [String], environment extra: [String: String] = [:],
                      memoryLimit: Int? = nil) throws -> ChildProcess {
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], controlPipe: [Int32] = [0, 0]
        guard kale_pipe_cloexec(&toChild) == 0, kale_pipe_cloexec(&fromChild) == 0, kale_pipe_cloexec(&errPipe) == 0,
              kale_pipe_cloexec(&controlPipe) == 0 else {
            throw KaleError(.invalidOptions, detail: "pipe2 failed: \(String(cString: strerror(errno)))")
        }
        var environment = ProcessInfo.processInfo.environment
        environment.merge(extra) { _, new in new }
        environment["KALE_CHILD"] = "1"
        environment[ChildRuntime.memoryLimitKey] = memoryLimit.map(String.init)
        // A crash report costs the child 10-30 ms of backtrace printing; the supervisor
        // records the signal anyway. Set SWIFT_BACKTRACE yourself to get them back.
        if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "enable=no" }
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = kale_spawn(&pid, executable, &argv, &envp, toChild[0], fromChild[1], errPipe[1], controlPipe[0])
        close(toChild[0]); close(fromChild[1]); close(errPipe[1]); close(controlPipe[0])
        guard rc == 0 else {
            close(toChild[1]); close(fromChild[0]); close(errPipe[0]); close(controlPipe[1])
            throw KaleError(.invalidOptions, detail: "cannot start child '\(executable)': \(String(cString: strerror(rc)))")
        }
        let child = ChildProcess(pid: pid, input: toChild[1], control: controlPipe[1], output: fromChild[0], errors: errPipe[0],
                                 memoryLimit: memoryLimit)
        let reader = Thread { child.readFrames() }
        reader.name = "kale-child-\(pid)"
        reader.start()
        let stderrReader = Thread { child.readErrors() }
        stderrReader.name = "kale-child-err-\(pid)"
        stderrReader.start()
        return child
    }

    deinit { closeInput() }

    private func send(_ frame: Frame, control: Bool = false) -> Bool {
        inputOpen.withLock { open in open && frame.write(to: control ? self.control : input) }
    }

    private func closeInput() {
        inputOpen.withLock { open in
            if open {
                close(input)
                close(control)
            }
            open = false
        }
    }

    var isAlive: Bool { state.withLock { $0.death == nil } }

    /// How the run it died in ended (nil while alive, or when it died between runs).
    var deathFailure: TaskFailure? { state.withLock { $0.failureOnDeath } }

    /// Resident memory in bytes (0 when unknown).
    var residentBytes: Int { max(Int(kale_rss_bytes(pid)), 0) }

    /// Waits until the child said hello; false when it died first or `timeout` passed.
    func waitUntilReady(timeout: Duration) async -> Bool {
        let timer = Task {
            try? await Task.sleep(for: timeout)
            state.withLock { s in
                let r = s.ready
                s.ready = nil
                return r
            }?.resume(returning: false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool? in
                if s.isReady { return true }
                if s.death != nil { return false }
                s.ready = c
                return nil
            }
            if let now { c.resume(returning: now) }
        }
    }

    /// Sends a task and waits for its outcome (or the child's death).
    ///
    /// A task that never reached the child (it had died, or the write of the frame failed)
    /// comes back ``Outcome/notStarted(_:)``: it costs no attempt.
    func run(_ frame: Frame, taskID: String, progress: @escaping @Sendable (Double, String?) -> Void) async -> Outcome {
        await withCheckedContinuation { c in
            let death = state.withLock { s -> String? in
                if let d = s.death { return d }
                s.current = c
                s.progress = progress
                s.killCause = nil
                s.currentTask = taskID
                s.runs &+= 1
                s.sending = true
                return nil
            }
            if let death {
                c.resume(returning: .notStarted("child \(pid) \(death) before the task was sent"))
                return
            }
            let delivered = send(frame)
            let (settle, outcome) = state.withLock { s -> (CheckedContinuation<Outcome, Never>?, Outcome?) in
                s.sending = false
                let outcome: Outcome
                if !delivered {
                    outcome = .notStarted("child \(pid) could not take the task (its input is closed: \(s.death ?? "it is exiting"))")
                } else if let failure = s.failureOnDeath {
                    outcome = .failed(failure)
                } else {
                    return (nil, nil)
                }
                return (s.takeCurrent(), outcome)
            }
            // A child that cannot take a frame can never serve again: make sure it ends, so
            // the pool replaces it instead of handing it the next task.
            if !delivered { killGroup() }
            if let settle, let outcome { settle.resume(returning: outcome) }
        }
    }

    /// Asks the running task to stop (cooperative).
    func requestStop(_ reason: TaskContext.StopReason) {
        let run = state.withLock { $0.runs }
        _ = send(Frame(.stop, StopRequest(run: run, reason: reason).payload), control: true)
    }

    /// The id of the task running now, if any.
    var currentTask: String? { state.withLock { $0.currentTask } }

    /// SIGKILLs the child and its subprocesses; the running task fails with `cause`.
    func kill(cause: TaskFailure) {
        state.withLock { if $0.killCause == nil { $0.killCause = cause } }
        killGroup()
    }

    /// SIGKILLs the child's process group: the child and whatever its task started.
    ///
    /// Only until the child is reaped (the check and the reap share the lock): after that its
    /// pid may be reused, and the process group with it.
    private func killGroup() {
        state.withLock { s in
            guard !s.reaped else { return }
            if Glibc.kill(-pid, SIGKILL) != 0 { Glibc.kill(pid, SIGKILL) }
        }
    }

    /// Closes the child's stdin: an idle child exits cleanly. Waits up to `timeout`, then
    /// kills it with its subprocesses.
    func retire(timeout: Duration = .seconds(2)) async {
        closeInput()
        let deadline = ContinuousClock.now + timeout
        while isAlive, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        if isAlive { killGroup() }
    }

    private func readFrames() {
        var reader = FrameReader(fd: output)
        while let frame = reader.next() {
            switch frame.kind {
            case .hello:
                state.withLock { s in
                    s.isReady = true
                    let r = s.ready
                    s.ready = nil
                    return r
                }?.resume(returning: true)
            case .progress:
                let fraction = Double(bitPattern: UInt64(bitPattern: Frame.int64(frame.payload[...])))
                let message = frame.payload.count > 8 ? String(decoding: frame.payload[8...], as: UTF8.self) : nil
                // Called here, in frame order: the sink only stores the value (last one wins)
                // and writes to Redis elsewhere, so this thread goes on reading at once.
                state.withLock { $0.progress }?(fraction, message)
            case .success, .failure:
                let outcome: Outcome
                if frame.kind == .success {
                    // The child encoded it with JSONEncoder; it goes to Redis as is.
                    outcome = frame.payload.isEmpty
                        ? .failed(TaskFailure(kind: .error, type: "InvalidResult", message: "the child sent an empty result"))
                        : .succeeded(frame.payload)
                } else {
                    outcome = .failed((try? JSONDecoder().decode(TaskFailure.self, from: Data(frame.payload)))
                        ?? TaskFailure(kind: .error, type: "InvalidFailure", message: String(decoding: frame.payload, as: UTF8.self)))
                }
                let c = state.withLock { s -> CheckedContinuation<Outcome, Never>? in
                    s.takeCurrent()
                }
                c?.resume(returning: outcome)
            case .run, .stop:
                break
            }
        }
        close(output)
        // EOF can come before the exit (the child closed its stdout); wait for the exit
        // itself without reaping, so a kill racing this still has the right process group.
        _ = kale_wait_exited(pid)
        var status: Int32 = 0
        let (death, ready) = state.withLock { s in
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            s.reaped = true
            // Marked first: a task sent from now on comes back not started, uncounted.
            s.death = ChildProcess.describe(status)
            let ready = s.ready
            s.ready = nil
            return (s.death!, ready)
        }
        ready?.resume(returning: false)
        // The last words (a panic message, the memory-limit note) are in the stderr pipe by
        // now; wait for its EOF, briefly: a subprocess the task started may hold it open.
        _ = errorsDone.wait(timeout: .now() + .milliseconds(100))
        let (c, failure) = state.withLock { s -> (CheckedContinuation<Outcome, Never>?, TaskFailure) in
            let failure = deathFailure(death: death, status: status, cause: s.killCause, tail: s.stderrTail)
            s.failureOnDeath = failure
            // A writer still sending settles the run itself, with this failure if its frame
            // got through.
            guard !s.sending else { return (nil, failure) }
            return (s.takeCurrent(), failure)
        }
        c?.resume(returning: .failed(failure))
    }

    private static func describe(_ status: Int32) -> String {
        if kale_wifsignaled(status) != 0 {
            let sig = kale_wtermsig(status)
            return "was killed by \(signalName(sig)) (signal \(sig))"
        }
        return "exited with code \(kale_wexitstatus(status))"
    }

    /// How a run ends when its child died: the supervisor's own kill says why; a crash right
    /// after an allocation failed under the child's memory limit is that limit; anything
    /// else is a crash or an exit, with the child's last words.
    private func deathFailure(death: String, status: Int32, cause: TaskFailure?, tail: [UInt8]) -> TaskFailure {
        if let cause { return cause }
        let signalled = kale_wifsignaled(status) != 0
        if signalled, let memoryLimit, String(decoding: tail, as: UTF8.self).contains(KALE_MEMORY_LIMIT_MARKER) {
            return TaskFailure(kind: .memoryLimit, type: "MemoryLimitExceeded",
                               message: "child process \(pid) \(death) when an allocation failed at its memory limit "
                                   + "(the ceiling of \(memoryLimit >> 20) MiB beyond what the idle child holds)")
        }
        var failure = TaskFailure(kind: signalled ? .crashed : .exited, type: signalled ? "ChildCrashed" : "ChildExited",
                                  message: "child process \(pid) \(death) while running the task")
        let lastWords = ChildProcess.lastLines(tail)
        if !lastWords.isEmpty { failure.message += "; stderr: \(lastWords)" }
        return failure
    }

    private func readErrors() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(errors, $0.baseAddress, 4096) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            _ = buffer.withUnsafeBytes { write(2, $0.baseAddress, n) }
            state.withLock { s in
                s.stderrTail.append(contentsOf: buffer[0..<n])
                if s.stderrTail.count > 4096 { s.stderrTail.removeFirst(s.stderrTail.count - 4096) }
            }
        }
        close(errors)
        errorsDone.signal()
    }

    private static func lastLines(_ tail: [UInt8]) -> String {
        let lines = String(decoding: tail, as: UTF8.self).split(separator: "\n").suffix(3)
        return lines.joined(separator: " | ").trimmingCharacters(in: .whitespaces).suffix(500).description
    }

    static func signalName(_ sig: Int32) -> String {
        switch sig {
        case SIGABRT: return "SIGABRT"
        case SIGILL: return "SIGILL"
        case SIGSEGV: return "SIGSEGV"
        case SIGBUS: return "SIGBUS"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGTERM: return "SIGTERM"
        case SIGTRAP: return "SIGTRAP"
        case SIGINT: return "SIGINT"
        default: return "signal \(sig)"
        }
    }
}
