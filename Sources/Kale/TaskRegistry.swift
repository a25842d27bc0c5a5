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

    /// Every registered name, sorted.
    public var names: [String] { handlers.withLock { $0.keys.sorted() } }
}
