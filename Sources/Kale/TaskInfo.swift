public import Foundation

/// Everything Redis holds about one task: its state, timings, result or error, progress.
public struct TaskInfo: Sendable, Hashable {
    public var id: String
    public var queue: String
    public var name: String
    public var state: TaskState
    /// Runs started so far (1 while the first run is going).
    public var attempt: Int
    public var maxRetries: Int
    public var priority: Priority
    /// Id of the worker running it (or that ran it last).
    public var worker: String?
    /// Why a waiting task is held back: `rate` (its rate limit reserved it a later start) or
    /// `concurrency` (it waits for a permit); nil when it is not.
    public var deferredBy: String?
    public var enqueuedAt: Date?
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The output as JSON, once succeeded.
    public var result: JSONValue?
    /// The last failure, if any run failed.
    public var error: TaskFailure?
    /// Reported progress (0…1) and message of a running task.
    public var progress: Double?
    public var progressMessage: String?
    /// The raw message as stored (the wire format), for inspection.
    public var message: String?

    /// Builds the info from an `HGETALL` of a task record; nil when the record is empty.
    init?(id: String, queue: String, fields: [String: String]) {
        guard let stateText = fields["state"] else { return nil }
        self.id = id
        self.queue = queue
        name = fields["name"] ?? ""
        // An unknown state can only come from a newer Kale; show it as pending rather than fail.
        state = TaskState(rawValue: stateText) ?? .pending
        attempt = Int(fields["attempt"] ?? "") ?? 0
        maxRetries = Int(fields["max_retries"] ?? "") ?? 0
        priority = Int(fields["prio"] ?? "").flatMap { r in Priority.allCases.first { $0.rank == r } } ?? .normal
        worker = fields["worker"]
        deferredBy = fields["deferred"]
        enqueuedAt = TaskInfo.date(fields["enqueued_at"])
        startedAt = TaskInfo.date(fields["started_at"])
        finishedAt = TaskInfo.date(fields["finished_at"])
        result = fields["result"].flatMap { try? JSONValue(parsing: Data($0.utf8)) }
        error = fields["error"].flatMap { try? JSONDecoder().decode(TaskFailure.self, from: Data($0.utf8)) }
        if let p = fields["progress"], let value = try? JSONValue(parsing: Data(p.utf8)) {
            if case .number(let n)? = value["fraction"] { progress = n }
            if case .string(let m)? = value["message"] { progressMessage = m }
        }
        message = fields["msg"]
    }

    /// Builds the info from a done message: the record as a JSON array of field, value, ….
    /// Nil when the payload is anything else.
    init?(id: String, queue: String, published payload: [UInt8]) {
        guard payload.first == UInt8(ascii: "["), case .array(let flat)? = try? JSONReader.parse(payload), flat.count % 2 == 0
        else { return nil }
        var fields: [String: String] = [:]
        for i in stride(from: 0, to: flat.count, by: 2) {
            guard case .string(let name) = flat[i], case .string(let value) = flat[i + 1] else { return nil }
            fields[name] = value
        }
        self.init(id: id, queue: queue, fields: fields)
    }

    /// The output decoded as `T`.
    ///
    /// - Throws: ``KaleError`` `.taskFailed` unless succeeded, `.encoding` when it does not decode.
    public func output<T: Decodable>(as type: T.Type) throws -> T {
        guard state == .succeeded, let result else {
            throw KaleError(.taskFailed, detail: "task ended \(state.rawValue)" + (error.map { ": \($0)" } ?? ""),
                            taskID: id, queue: queue, state: state, failure: error)
        }
        do { return try result.decode(T.self) }
        catch { throw KaleError(.encoding, detail: "result does not decode as \(T.self): \(describe(error))", taskID: id, queue: queue) }
    }

    private static func date(_ ms: String?) -> Date? {
        guard let ms, let v = Double(ms), v > 0 else { return nil }
        return Date(timeIntervalSince1970: v / 1000)
    }
}
