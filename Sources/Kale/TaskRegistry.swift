import Synchronization

/// The tasks a process can run, by name.
///
/// Registering the same name twice is a programmer error and stops the process: two
/// handlers for one name would make which one runs depend on registration order.
public final class TaskRegistry: Sendable {
    private let handlers = Mutex<[String: TaskHandler]>([:])
    private let schedules = Mutex<[String: ScheduleDefinition]>([:])

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

    /// Declares schedule `name`: `task` enqueued with `input` at every tick of `timing`, on
    /// `queue`, else the task's default queue, else the publishing worker's default queue. Workers with this registry publish
    /// it at start (``DefinitionOrigin/code``): added when missing, updated when the stored
    /// one came from code and fires differently, left alone when an operator made it.
    ///
    /// Declaring a name twice, or one that ``ScheduleDefinition/validate()`` refuses, is a
    /// programmer error and stops the process.
    public func schedule<T: TaskDefinition>(_ name: String, _ task: T.Type, input: T.Input, timing: ScheduleTiming,
                                            queue: String? = nil, catchUp: ScheduleDefinition.CatchUp = .none) {
        let args: JSONValue
        do { args = try JSONValue(encoding: input) }
        catch { preconditionFailure("the input of schedule '\(name)' does not encode as JSON: \(error)") }
        // No queue: empty until a worker publishes it, with its configuration's default queue.
        let definition = ScheduleDefinition(name: name, task: T.name, timing: timing, args: args,
                                            queue: queue ?? T.defaultOptions.queue ?? "", catchUp: catchUp, origin: .code)
        var check = definition
        if check.queue.isEmpty { check.queue = "default" }
        do { try check.validate() } catch { preconditionFailure("schedule '\(name)': \(error)") }
        schedules.withLock { s in
            precondition(s[name] == nil, "schedule '\(name)' is declared twice")
            s[name] = definition
        }
    }

    /// The schedules declared with ``schedule(_:_:input:timing:queue:catchUp:)``, by name.
    public var declaredSchedules: [ScheduleDefinition] { schedules.withLock { $0.values.sorted { $0.name < $1.name } } }
}
