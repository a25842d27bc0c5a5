public import Foundation
import KaleRedis

/// One entry of an event stream: something that happened to a task or a worker.
///
/// Task events live in each queue's capped stream (``Keys/events(_:)``), written by the
/// transition scripts in the same step as the transition; worker events (`worker_online`,
/// `worker_offline`, `child_died`) in the shared ``Keys/workerEvents`` stream. Events never
/// carry a task's arguments or result, only what identifies it.
public struct KaleEvent: Sendable, Hashable {
    /// The stream entry id (`<ms>-<seq>`, Redis' clock): orders events of one stream.
    public var id: String
    /// The queue, nil for a worker event.
    public var queue: String?
    /// `enqueued`, `started`, `retried`, `succeeded`, `dead`, `cancelled`, `expired`, `reaped`,
    /// or `worker_online`, `worker_offline`, `child_died`.
    public var kind: String
    public var taskID: String?
    public var name: String?
    public var attempt: Int?
    public var worker: String?
    /// An error type (`retried`, `dead`), a cause (`child_died`), or nil.
    public var detail: String?
    /// For a batch's `enqueued`: how many tasks (``taskID`` is the first).
    public var count: Int?
    /// For `child_died`: the child's pid.
    public var pid: Int?

    /// When it happened, from the entry id.
    public var time: Date {
        let ms = Double(id.split(separator: "-").first.flatMap { Int64($0) } ?? 0)
        return Date(timeIntervalSince1970: ms / 1000)
    }

    /// The events of a stream entry: one, or two when a runner's end of one task carries the
    /// start of its next (`s`, `sa`, `sn`: written in the same step, so in one entry).
    static func events(queue: String?, entry: RedisReply) -> [KaleEvent] {
        guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let kv = parts[1].strings else { return [] }
        var f: [String: String] = [:]
        var i = 0
        while i + 1 < kv.count { f[kv[i]] = kv[i + 1]; i += 2 }
        guard let first = KaleEvent(queue: queue, id: id, fields: f) else { return [] }
        guard let next = f["s"] else { return [first] }
        var start = KaleEvent(queue: queue, id: id, fields: ["k": "started", "i": next, "w": f["w"] ?? ""])!
        start.name = f["sn"]
        start.attempt = f["sa"].flatMap { Int($0) }
        if f["w"] == nil { start.worker = nil }
        return [first, start]
    }

    private init?(queue: String?, id: String, fields f: [String: String]) {
        guard let kind = f["k"] else { return nil }
        self.id = id
        self.queue = queue ?? f["q"]
        self.kind = kind
        taskID = f["i"]
        name = f["n"]
        attempt = f["a"].flatMap { Int($0) }
        worker = f["w"]
        detail = f["x"]
        count = f["c"].flatMap { Int($0) }
        pid = f["p"].flatMap { Int($0) }
    }

    /// Events of several streams in time order; the two events of one entry keep theirs.
    static func sortedByTime(_ events: [KaleEvent]) -> [KaleEvent] {
        events.enumerated().sorted { a, b in
            let (x, y) = (order(a.element.id), order(b.element.id))
            return x != y ? x < y : a.offset < b.offset
        }.map(\.element)
    }

    static func order(_ id: String) -> (Int64, Int64) {
        let p = id.split(separator: "-")
        return (p.first.flatMap { Int64($0) } ?? 0, p.count > 1 ? Int64(p[1]) ?? 0 : 0)
    }
}
