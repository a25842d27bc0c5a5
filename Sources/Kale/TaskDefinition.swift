/// A kind of task: a stable name, a `Codable` input and output, and the work itself.
///
/// ```swift
/// struct Thumbnail: TaskDefinition {
///     static let name = "images.thumbnail"
///     func run(_ input: ThumbnailInput, context: TaskContext) async throws -> ThumbnailOutput { … }
/// }
/// ```
/// The name is the contract between producers and workers: keep it stable across releases.
/// Instances are registered in a ``TaskRegistry``; one instance serves every run, so put
/// shared resources (a connection pool, a cache) in its stored properties.
public protocol TaskDefinition: Sendable {
    associatedtype Input: Codable & Sendable
    associatedtype Output: Codable & Sendable

    /// The name producers enqueue by, e.g. `images.thumbnail`.
    static var name: String { get }

    /// Options applied when the producer leaves them unset (queue, retries, limits …).
    ///
    /// The typed ``KaleClient/enqueue(_:_:options:)`` applies them, and so does an enqueue by
    /// name in an executable that registers the task: `kale enqueue` and the dashboard's
    /// `POST /api/tasks` run through `KaleCLI.main(registry:)` (``TaskRegistry/defaults(for:)``).
    /// ``KaleClient/enqueue(name:args:options:)`` alone does not know them: pass
    /// `options.merged(over: registry.defaults(for: name) ?? EnqueueOptions())` when a
    /// registry is at hand.
    static var defaultOptions: EnqueueOptions { get }

    /// The names of the input's fields in the order a caller that passes positional arguments
    /// gives them (a Celery client's `args=(2, 3)`). Default none: such a caller must use
    /// keyword arguments.
    static var argumentNames: [String] { get }

    /// Fleet-wide rate limit and concurrency cap of this task, published by every worker that
    /// registers it (``DefinitionOrigin/code``). Default none. Limits set at run time
    /// (`kale limits set`, ``KaleClient/setLimits(_:for:)``) win over these.
    static var limits: TaskLimits? { get }

    /// Does the work.
    ///
    /// Check `context.isCancelled` (or call `try context.checkCancellation()`) in long loops
    /// so a soft time limit or a cancel request can stop the task cleanly.
    /// - Throws: anything; the task fails and is retried per its options. Throw a
    ///   ``TaskFailure`` with `retryable: false` when retrying cannot help.
    func run(_ input: Input, context: TaskContext) async throws -> Output
}

extension TaskDefinition {
    public static var defaultOptions: EnqueueOptions { EnqueueOptions() }
    public static var argumentNames: [String] { [] }
    public static var limits: TaskLimits? { nil }
}

/// A task definition with its types erased, as the worker runs it from JSON.
public struct TaskHandler: Sendable {
    public let name: String
    public let defaultOptions: EnqueueOptions
    /// See ``TaskDefinition/argumentNames``.
    public let argumentNames: [String]
    /// See ``TaskDefinition/limits``.
    public let limits: TaskLimits?
    /// Decodes the input, runs the task and encodes the output.
    public let run: @Sendable (JSONValue, TaskContext) async throws -> JSONValue

    public init<T: TaskDefinition>(_ task: T) {
        name = T.name
        defaultOptions = T.defaultOptions
        argumentNames = T.argumentNames
        limits = Self.declared(T.limits, of: T.name)
        run = { args, context in
            let input: T.Input
            do { input = try args.decode(T.Input.self) }
            catch {
                // Wrong argument types never fix themselves: dead-letter instead of retrying.
                throw TaskFailure.rejected("input does not decode as \(T.Input.self): \(describe(error))", type: "InvalidInput")
            }
            let output = try await task.run(input, context: context)
            do { return try JSONValue(encoding: output) }
            catch { throw TaskFailure.rejected("output does not encode as JSON: \(error)", type: "InvalidOutput") }
        }
    }

    /// Declared limits as published: from code, and valid (an invalid one is a programmer
    /// error, found at registration rather than in a worker's log).
    private static func declared(_ limits: TaskLimits?, of name: String) -> TaskLimits? {
        guard var l = limits else { return nil }
        do { try l.validate() } catch { preconditionFailure("the limits of task '\(name)': \(error)") }
        l.origin = .code
        return l
    }

    /// A handler from a closure over raw JSON, for built-in and dynamic tasks.
    public init(name: String, defaultOptions: EnqueueOptions = EnqueueOptions(), argumentNames: [String] = [],
                limits: TaskLimits? = nil, run: @escaping @Sendable (JSONValue, TaskContext) async throws -> JSONValue) {
        self.name = name
        self.limits = Self.declared(limits, of: name)
        self.defaultOptions = defaultOptions
        self.argumentNames = argumentNames
        self.run = run
    }
}

/// A short, readable account of a decoding error (Foundation's descriptions are long).
func describe(_ error: any Error) -> String {
    guard let e = error as? DecodingError else { return String(describing: error) }
    func path(_ c: DecodingError.Context) -> String {
        let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "" : " at '\(p)'"
    }
    switch e {
    case .typeMismatch(let t, let c): return "expected \(t)\(path(c)): \(c.debugDescription)"
    case .valueNotFound(let t, let c): return "missing \(t) value\(path(c))"
    case .keyNotFound(let k, let c): return "missing key '\(k.stringValue)'\(path(c))"
    case .dataCorrupted(let c): return "\(c.debugDescription)\(path(c))"
    @unknown default: return String(describing: e)
    }
}
