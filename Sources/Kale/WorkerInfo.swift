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

    /// A child process of a worker's pool at its last heartbeat.
    public struct ChildInfo: Sendable, Hashable {
        /// Its place in the pool, 0 ..< concurrency: a replacement takes the same slot.
        public var slot: Int
        public var pid: Int
        public var rssBytes: Int
        public var startedAt: Date?
        /// The task it runs now.
        public var taskID: String?
        /// Tasks it ran so far.
        public var tasksRun: Int
    }

    /// A child process that ended and was replaced.
    public struct ChildDeath: Sendable, Hashable {
        public var slot: Int
        public var pid: Int
        /// `crashed`, `exited`, `time_limit`, `soft_time_limit`, `memory_limit`, `cancelled`, `shutdown`
        /// (killed to stop a task), `max_tasks`, `memory` (recycled), `idle` (died between tasks).
        public var cause: String
        /// The task it was running, if any.
        public var taskID: String?
        public var at: Date?
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
    /// The pool's children (empty for the inline pool).
    public var children: [ChildInfo]
    /// The last few children that ended, oldest first.
    public var recentDeaths: [ChildDeath]

    /// Builds the info from an `HGETALL` of a worker hash; nil when the hash is gone.
    public init?(id: String, fields: [String: String]) {
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
                if case .number(let a)? = item["attempt"] { task.attempt = Int(exactly: a.rounded(.towardZero)) ?? 0 }
                if case .number(let s)? = item["started_at"] { task.startedAt = WorkerInfo.date(s) }
                if case .number(let p)? = item["progress"] { task.progress = p }
                tasks.append(task)
            }
        }
        running = tasks.sorted { ($0.startedAt ?? .distantFuture) < ($1.startedAt ?? .distantFuture) }
        children = WorkerInfo.objects(fields["children"]).map { o in
            ChildInfo(slot: WorkerInfo.int(o["slot"]), pid: WorkerInfo.int(o["pid"]), rssBytes: WorkerInfo.int(o["rss"]),
                      startedAt: WorkerInfo.date(o["started_at"]?.doubleValue), taskID: o["task"]?.stringValue,
                      tasksRun: WorkerInfo.int(o["tasks"]))
        }
        recentDeaths = WorkerInfo.objects(fields["deaths"]).map { o in
            ChildDeath(slot: WorkerInfo.int(o["slot"]), pid: WorkerInfo.int(o["pid"]), cause: o["cause"]?.stringValue ?? "",
                       taskID: o["task"]?.stringValue, at: WorkerInfo.date(o["at"]?.doubleValue))
        }
    }

    /// The objects of a JSON array field (none for an absent or older-format field).
    private static func objects(_ text: String?) -> [[String: JSONValue]] {
        guard let text, case .array(let items)? = try? JSONValue(parsing: Data(text.utf8)) else { return [] }
        return items.compactMap(\.objectValue)
    }

    /// A whole number of a heartbeat field; 0 for anything else (the hash is data from Redis:
    /// a huge or fractional value must not trap the reader).
    private static func int(_ value: JSONValue?) -> Int { value?.doubleValue.flatMap { Int(exactly: $0.rounded(.towardZero)) } ?? 0 }

    /// The task that has been running longest, if any.
    public var oldestRunning: RunningTask? { running.first }

    private static func date(_ ms: Double?) -> Date? {
        guard let ms, ms > 0 else { return nil }
        return Date(timeIntervalSince1970: ms / 1000)
    }
}
