import Synchronization

/// Work a process does just before it exits: a trace exporter flushing its last spans.
///
/// Process-wide by nature, like `atexit`, and not `atexit` itself: a pool child leaves with
/// `_exit` (decision 0012: its task's subprocesses are killed, nothing else may run), so the
/// places that end a Kale process (``run()`` callers: `KaleCLI.main`, a child's leave) call the
/// hooks explicitly. Hooks must bound their own time.
public enum ProcessExit {
    private static let hooks = Mutex<[@Sendable () -> Void]>([])

    /// Adds `hook`, run once by ``run()``, in the order added.
    public static func register(_ hook: @escaping @Sendable () -> Void) {
        hooks.withLock { $0.append(hook) }
    }

    /// Runs and removes every hook.
    public static func run() {
        for hook in hooks.withLock({ h in defer { h = [] }; return h }) { hook() }
    }
}
