import Foundation
import KaleRedis
package import Kale

// The JSON objects the commands print; docs/cli.md documents each shape, and the dashboard's
// JSON API (package access) returns the same ones. Keys are
// snake_case, times ISO 8601 UTC strings, and absent values are left out rather than null.

extension TaskFailure {
    package var json: JSONValue {
        .object(["kind": .string(kind.rawValue), "type": .string(type), "message": .string(message), "retryable": .bool(retryable)])
    }
}

extension TaskInfo {
    /// The task object: `enqueue --wait`, `result`, `inspect task`.
    ///
    /// - Parameters:
    ///   - envelope: the decoded message, for `inspect task` (adds args and limits).
    ///   - timedOut: the wait for it ended before it did.
    package func json(envelope: Envelope? = nil, timedOut: Bool = false) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "queue": .string(queue), "name": .string(name), "state": .string(state.rawValue),
            "attempts": .number(Double(attempt)), "max_retries": .number(Double(maxRetries)),
            "priority": .string(priority.rawValue),
        ]
        if let worker { o["worker"] = .string(worker) }
        if let deferredBy { o["deferred_by"] = .string(deferredBy) }
        if let enqueuedAt { o["enqueued_at"] = .string(Format.iso(enqueuedAt)) }
        if let startedAt { o["started_at"] = .string(Format.iso(startedAt)) }
        if let finishedAt { o["finished_at"] = .string(Format.iso(finishedAt)) }
        if state == .succeeded { o["result"] = result ?? .null }
        if let error { o["error"] = error.json }
        if let progress { o["progress"] = .number(progress) }
        if let progressMessage { o["progress_message"] = .string(progressMessage) }
        if timedOut { o["timed_out"] = .bool(true) }
        if let e = envelope {
            o["args"] = e.args
            if let eta = e.eta { o["eta"] = .string(Format.iso(Date(timeIntervalSince1970: Double(eta) / 1000))) }
            if let exp = e.expiresAt { o["expires_at"] = .string(Format.iso(Date(timeIntervalSince1970: Double(exp) / 1000))) }
            if let t = e.timeLimitMs { o["time_limit_ms"] = .number(Double(t)) }
            if let t = e.softTimeLimitMs { o["soft_time_limit_ms"] = .number(Double(t)) }
            if let u = e.uniqueKey { o["unique_key"] = .string(u) }
            if !e.headers.isEmpty { o["headers"] = .object(e.headers.mapValues { .string($0) }) }
        }
        return .object(o)
    }

    /// One line: `<id> <state> <result JSON | error>`.
    var line: String {
        var text = "\(id) \(state.rawValue)"
        if state == .succeeded { text += " " + (result ?? .null).jsonString }
        else if let error { text += " " + error.description }
        return text
    }
}

extension QueueStats {
    package var json: JSONValue {
        var byPriority: [String: JSONValue] = [:]
        for p in Priority.allCases { byPriority[p.rawValue] = .number(Double(pending[p] ?? 0)) }
        return .object([
            "queue": .string(queue), "pending": .number(Double(pendingTotal)), "pending_by_priority": .object(byPriority),
            "scheduled": .number(Double(scheduled)), "active": .number(Double(active)), "dead": .number(Double(dead)),
            "completed_last_minute": .number(Double(succeededRecently)), "failed_last_minute": .number(Double(failedRecently)),
            "counters_last_minute": .object(recent.mapValues { .number(Double($0)) }),
            "window_seconds": .number(window.seconds), "paused": .bool(isPaused),
            "paused_at": pausedAt.map { .string(Format.iso(Date(timeIntervalSince1970: Double($0) / 1000))) } ?? .null,
        ])
    }
}

extension WorkerInfo.RunningTask {
    package var json: JSONValue {
        var o: [String: JSONValue] = ["id": .string(id), "queue": .string(queue), "name": .string(name), "attempt": .number(Double(attempt))]
        if let startedAt { o["started_at"] = .string(Format.iso(startedAt)) }
        if let progress { o["progress"] = .number(progress) }
        return .object(o)
    }
}

extension WorkerInfo {
    package var json: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "host": .string(host), "pid": .number(Double(pid)), "queues": .string(queues),
            "pool": .string(pool), "concurrency": .number(Double(concurrency)), "state": .string(state),
            "version": .string(version), "running_count": .number(Double(running.count)), "running": .array(running.map(\.json)),
        ]
        if let startedAt { o["started_at"] = .string(Format.iso(startedAt)) }
        if let lastHeartbeat { o["last_heartbeat"] = .string(Format.iso(lastHeartbeat)) }
        if let oldest = oldestRunning { o["oldest_running"] = oldest.json }
        o["children"] = .array(children.map(\.json))
        o["recent_deaths"] = .array(recentDeaths.map(\.json))
        return .object(o)
    }
}

extension WorkerInfo.ChildInfo {
    package var json: JSONValue {
        var o: [String: JSONValue] = [
            "slot": .number(Double(slot)), "pid": .number(Double(pid)), "rss_bytes": .number(Double(rssBytes)),
            "tasks_run": .number(Double(tasksRun)),
        ]
        if let startedAt { o["started_at"] = .string(Format.iso(startedAt)) }
        if let taskID { o["task"] = .string(taskID) }
        return .object(o)
    }
}

extension WorkerInfo.ChildDeath {
    package var json: JSONValue {
        var o: [String: JSONValue] = ["slot": .number(Double(slot)), "pid": .number(Double(pid)), "cause": .string(cause)]
        if let at { o["at"] = .string(Format.iso(at)) }
        if let taskID { o["task"] = .string(taskID) }
        return .object(o)
    }
}

extension KaleEvent {
    /// One line of `kale events --json`.
    package var json: JSONValue {
        var o: [String: JSONValue] = ["id": .string(id), "kind": .string(kind), "time": .string(Format.iso(time))]
        if let queue { o["queue"] = .string(queue) }
        if let taskID { o["task"] = .string(taskID) }
        if let name { o["name"] = .string(name) }
        if let attempt { o["attempt"] = .number(Double(attempt)) }
        if let worker { o["worker"] = .string(worker) }
        if let detail { o["detail"] = .string(detail) }
        if let count { o["count"] = .number(Double(count)) }
        if let pid { o["pid"] = .number(Double(pid)) }
        return .object(o)
    }
}

extension DeadTask {
    package var json: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "queue": .string(queue), "name": .string(name), "died_at": .string(Format.iso(diedAt)),
            "attempts": .number(Double(attempts)),
        ]
        if let error { o["error"] = error.json }
        return .object(o)
    }
}

extension WorkflowInfo {
    /// `kale workflow show --json` and the dashboard's `/api/workflows/:id`:
    /// `{"id","state","tree","result"?,"error"?,"failed_step"?,"created_at","finished_at"?,
    /// "steps":[task object + "path", "task"; {"state":"not started"} for one not created]}`.
    package func json(records: [WorkflowPath: TaskInfo]) -> JSONValue {
        var o: [String: JSONValue] = ["id": .string(id), "state": .string(state), "tree": tree.document]
        if let result { o["result"] = result }
        if let error { o["error"] = error.json }
        if let failedStep { o["failed_step"] = .string(failedStep.description) }
        if let createdAt { o["created_at"] = .string(Format.iso(createdAt)) }
        if let finishedAt { o["finished_at"] = .string(Format.iso(finishedAt)) }
        o["steps"] = .array(tree.steps().map { s in
            var step: [String: JSONValue] = ["state": .string("not started")]
            if case .object(let record)? = records[s.path]?.json() { step = record }
            step["path"] = .string(s.path.description)
            step["task"] = .string(s.step.task)
            return .object(step)
        })
        return .object(o)
    }
}
