import Foundation
import Kale
import KaleCelery

/// The plain-text forms of `kale inspect`.
enum InspectRender {
    static func queues(_ stats: [QueueStats]) -> String {
        guard !stats.isEmpty else { return "no queues (nothing was enqueued under this prefix)" }
        var t = TextTable([("QUEUE", .left), ("PENDING", .right), ("SCHEDULED", .right), ("ACTIVE", .right),
                           ("DEAD", .right), ("DONE/1m", .right), ("FAILED/1m", .right), ("STATE", .left)])
        for s in stats {
            t.add([s.queue, "\(s.pendingTotal)", "\(s.scheduled)", "\(s.active)", "\(s.dead)",
                   "\(s.succeededRecently)", "\(s.failedRecently)", s.isPaused ? "paused" : "running"])
        }
        return t.render()
    }

    static func celeryQueues(_ stats: [CeleryQueueStats]) -> String {
        var t = TextTable([("CELERY QUEUE", .left), ("KOMBU 0", .right), ("KOMBU 3", .right), ("KOMBU 6", .right),
                           ("KOMBU 9", .right), ("INTAKE", .right), ("UNACKED", .right)])
        for s in stats {
            t.add([s.brokerPrefix + s.queue] + s.kombuPending.map(String.init) + ["\(s.intake)", "\(s.unacked)"])
        }
        return t.render()
    }

    static func workers(_ workers: [WorkerInfo], now: Date = Date()) -> String {
        guard !workers.isEmpty else { return "no live workers" }
        var t = TextTable([("WORKER", .left), ("HOST", .left), ("PID", .right), ("POOL", .left), ("CONC", .right),
                           ("RUNNING", .right), ("STATE", .left), ("OLDEST RUNNING TASK", .left)])
        for w in workers {
            let oldest = w.oldestRunning.map { r in
                "\(r.name) \(r.id) for \(r.startedAt.map { Format.duration(now.timeIntervalSince($0)) } ?? "?")"
            } ?? "-"
            t.add([w.id, w.host, "\(w.pid)", w.pool, "\(w.concurrency)", "\(w.running.count)", w.state, oldest])
        }
        return t.render()
    }

    static func task(_ info: TaskInfo, envelope: Envelope?, now: Date = Date()) -> String {
        var rows: [(String, String)] = [
            ("id", info.id), ("name", info.name), ("queue", info.queue), ("state", info.state.rawValue),
            ("attempts", "\(info.attempt) of \(info.maxRetries + 1)"), ("priority", info.priority.rawValue),
        ]
        if let d = info.deferredBy {
            rows.append(("held back by", d == "rate" ? "its rate limit (a later start is reserved)" : "its concurrency cap (waiting for a permit)"))
        }
        func time(_ label: String, _ date: Date?) {
            if let date { rows.append((label, "\(Format.iso(date)) (\(Format.relative(date, now: now)))")) }
        }
        time("enqueued at", info.enqueuedAt)
        if let e = envelope {
            time("eta", e.eta.map { Date(timeIntervalSince1970: Double($0) / 1000) })
            time("expires at", e.expiresAt.map { Date(timeIntervalSince1970: Double($0) / 1000) })
        }
        time("started at", info.startedAt)
        time("finished at", info.finishedAt)
        if let w = info.worker { rows.append(("worker", w)) }
        if let p = info.progress {
            rows.append(("progress", "\(Int((p * 100).rounded()))%" + (info.progressMessage.map { " \($0)" } ?? "")))
        }
        if let e = envelope {
            rows.append(("args", EncryptedValue.placeholder(e.args) ?? e.args.jsonString))
            if let t = e.timeLimitMs { rows.append(("time limit", Format.duration(.milliseconds(t)))) }
            if let t = e.softTimeLimitMs { rows.append(("soft time limit", Format.duration(.milliseconds(t)))) }
            if let u = e.uniqueKey { rows.append(("unique key", u)) }
        }
        if info.state == .succeeded {
            let result = info.result ?? .null
            rows.append(("result", EncryptedValue.placeholder(result) ?? result.jsonString))
        }
        if let error = info.error { rows.append(("error", error.description)) }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { label, value in
            label + ":" + String(repeating: " ", count: width - label.count + 1) + value
        }.joined(separator: "\n")
    }
}
