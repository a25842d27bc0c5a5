import Foundation
public import Hummingbird
public import Kale

/// `202` body of the enqueue endpoints.
public struct AcceptedResponse: ResponseCodable {
    /// The task id, for `GET /tasks/{id}`.
    public var id: String
    /// Where to ask for the task's state.
    public var status: String
}

/// `GET /health` body.
public struct HealthResponse: ResponseCodable {
    public var status: String
}

/// `GET /tasks/{id}` body. Times are milliseconds since 1970 (UTC).
public struct TaskStatusResponse: ResponseCodable {
    public var id: String
    public var name: String
    public var queue: String
    /// `pending`, `scheduled`, `started`, `retrying`, `succeeded`, `failed`, `dead`, …
    public var state: String
    /// Runs started so far.
    public var attempt: Int
    public var progress: Double?
    public var progressMessage: String?
    /// The task's output, once it succeeded.
    public var result: JSONValue?
    /// The last failure, if a run failed.
    public var error: TaskFailure?
    public var enqueuedAt: Int64?
    public var startedAt: Int64?
    public var finishedAt: Int64?

    init(_ info: TaskInfo) {
        id = info.id
        name = info.name
        queue = info.queue
        state = info.state.rawValue
        attempt = info.attempt
        progress = info.progress
        progressMessage = info.progressMessage
        result = info.state == .succeeded ? info.result : nil
        error = info.error
        enqueuedAt = info.enqueuedAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        startedAt = info.startedAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        finishedAt = info.finishedAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    enum CodingKeys: String, CodingKey {
        case id, name, queue, state, attempt, progress, result, error
        case progressMessage = "progress_message"
        case enqueuedAt = "enqueued_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }
}
