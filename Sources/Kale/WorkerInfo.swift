public import Foundation

/// A live worker as its heartbeat describes it in the registry (`kale:worker:<id>`).
public struct WorkerInfo: Sendable, Hashable {
    /// A task the worker was running at its last heartbeat.
    public struct RunningTask: Sendable, Hashable {
        public var id: String
        public var queue: String
        public var name: String
        public var attempt: Int
        public var startedAt: Date?
        /// Reported progress, 0…1.
        public var progress: Double?
    }

    public var id: String
    public var host: String
    public var pid: Int
    /// The queues it fetches from as written by the worker (`a=3,b=1`).
    public var queues: String
    /// `process` or `inline`.
    public var pool: String
    public var concurrency: Int
    /// `running`, or `stopping` during a warm shutdown.
    public var state: String
    public var version: String
    public var startedAt: Date?
    public var lastHeartbeat: Date?
    /// Running tasks, oldest first.
    public var running: [RunningTask]

    /// Builds the info from an `HGETALL` of a worker hash; nil when the hash is gone.
    init?(id: String, fields: [String: String]) {
        guard !fields.isEmpty else { return nil }
        self.id = id
        host = fields["host"] ?? ""
        pid = Int(fields["pid"] ?? "") ?? 0
        queues = fields["queues"] ?? ""
        pool = fields["pool"] ?? ""
        concurrency = Int(fields["concurrency"] ?? "") ?? 0
        state = fields["state"] ?? "running"
        version = fields["version"] ?? ""
        startedAt = WorkerInfo.date(fields["started_at"].flatMap(Double.init))
        lastHeartbeat = WorkerInfo.date(fields["beat_at"].flatMap(Double.init))
        var tasks: [RunningTask] = []
        if let text = fields["running"], case .array(let items)? = try? JSONValue(parsing: Data(text.utf8)) {
            for item in items {
                guard case .string(let taskID)? = item["id"] else { continue }
                var task = RunningTask(id: taskID, queue: "", name: "", attempt: 0)
                if case .string(let q)? = item["queue"] { task.queue = q }
                if case .string(let n)? = item["name"] { task.name = n }
                if case .number(let a)? = item["attempt"] { task.attempt = Int(a) }
                if case .number(let s)? = item["started_at"] { task.startedAt = WorkerInfo.date(s) }
                if case .number(let p)? = item["progress"] { task.progress = p }
                tasks.append(task)
            }
        }
        running = tasks.sorted { ($0.startedAt ?? .distantFuture) < ($1.startedAt ?? .distantFuture) }
    }

    /// The task that has been running longest, if any.
    public var oldestRunning: RunningTask? { running.first }

    private static func date(_ ms: Double?) -> Date? {
        guard let ms, ms > 0 else { return nil }
        return Date(timeIntervalSince1970: ms / 1000)
    }
}
