import Synchronization

/// The tasks a process can run, by name.
///
/// Registering the same name twice is a programmer error and stops the process: two
/// handlers for one name would make which one runs depend on registration order.
public final class TaskRegistry: Sendable {
    private let handlers = Mutex<[String: TaskHandler]>([:])

    public init() {}

    /// Registers `task` under `T.name`.
    public func register<T: TaskDefinition>(_ task: T) {
        register(TaskHandler(task))
    }

    /// Registers a type-erased handler.
    public func register(_ handler: TaskHandler) {
        handlers.withLock { h in
            precondition(h[handler.name] == nil, "task '\(handler.name)' is registered twice")
            precondition(!handler.name.isEmpty, "a task name must not be empty")
            h[handler.name] = handler
        }
    }

    /// The handler registered under `name`.
    public func handler(named name: String) -> TaskHandler? {
        handlers.withLock { $0[name] }
    }

    /// The options the task registered under `name` declares
    /// (``TaskHandler/defaultOptions``), or nil when no task has that name.
    ///
    /// An enqueue by name applies them the way the typed enqueue applies `T.defaultOptions`:
    /// `options.merged(over: registry.defaults(for: name) ?? EnqueueOptions())`
    /// (``EnqueueOptions/merged(over:)``), so what the caller sets wins.
    public func defaults(for name: String) -> EnqueueOptions? {
        handler(named: name)?.defaultOptions
    }

    /// Every registered name, sorted.
    public var names: [String] { handlers.withLock { $0.keys.sorted() } }
}
