import Dispatch
import Synchronization

/// Work a process does just before it exits: a trace exporter flushing its last spans.
///
/// Process-wide by nature, like `atexit`, and not `atexit` itself: a pool child leaves with
/// `_exit` (decision 0012: its task's subprocesses are killed, nothing else may run), so the
/// places that end a Kale process call the hooks explicitly: `KaleCLI.main` with ``run()``, a
/// child's leave with ``runBlocking(timeout:)``. Hooks must bound their own time.
public enum ProcessExit {
    private static let hooks = Mutex<[@Sendable () async -> Void]>([])

    /// Adds `hook`, run once, in the order added.
    public static func register(_ hook: @escaping @Sendable () async -> Void) {
        hooks.withLock { $0.append(hook) }
    }

    /// Runs and removes every hook, from async code (it awaits, so the hooks' own work can
    /// use the thread it would otherwise block).
    public static func run() async {
        for hook in take() { await hook() }
    }

    /// Runs and removes every hook from a thread outside Swift concurrency (a child's own
    /// threads), waiting at most `timeout`.
    public static func runBlocking(timeout: Duration = .seconds(3)) {
        let pending = take()
        guard !pending.isEmpty else { return }
        let done = DispatchSemaphore(value: 0)
        // Unstructured: this thread waits on the semaphore, the hooks run on the pool.
        Task {
            for hook in pending { await hook() }
            done.signal()
        }
        _ = done.wait(timeout: .now() + .milliseconds(Int(timeout.components.seconds * 1000)))
    }

    private static func take() -> [@Sendable () async -> Void] {
        hooks.withLock { h in defer { h = [] }; return h }
    }
}
