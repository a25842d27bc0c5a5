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
    /// `ok`.
    public var status: String
}

/// `GET /tasks/{id}` body. Times are milliseconds since 1970 (UTC).
public struct TaskStatusResponse: ResponseCodable {
    /// The task id.
    public var id: String
    /// The task name, e.g. `reports.pdf`.
    public var name: String
    /// The queue it was enqueued on.
    public var queue: String
    /// `pending`, `scheduled`, `started`, `retrying`, `succeeded`, `failed`, `dead`, …
    public var state: String
    /// Runs started so far.
    public var attempt: Int
    /// Reported progress, 0…1.
    public var progress: Double?
    /// What the task said it was doing at its last progress report.
    public var progressMessage: String?
    /// The task's output, once it succeeded.
    public var result: JSONValue?
    /// The last failure, if a run failed.
    public var error: TaskFailure?
    /// When it was enqueued.
    public var enqueuedAt: Int64?
    /// When a worker took it (leased it; with prefetch, possibly before a child started it).
    public var startedAt: Int64?
    /// When it ended.
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
