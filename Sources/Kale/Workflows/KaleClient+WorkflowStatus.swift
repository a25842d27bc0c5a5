public import Foundation
import KaleRedis

/// A workflow's record: its state, output or failure.
public struct WorkflowInfo: Sendable, Hashable {
    public var id: String
    /// `running`, `succeeded`, `failed` or `cancelled`.
    public var state: String
    public var tree: WorkflowNode
    public var result: JSONValue?
    public var error: TaskFailure?
    /// The step whose failure ended it.
    public var failedStep: WorkflowPath?
    public var createdAt: Date?
    public var finishedAt: Date?

    public var isFinished: Bool { state != "running" }
}

extension KaleClient {
    /// The record of workflow `id`, or nil when there is none (never submitted, or expired).
    /// - Throws: ``RedisError``, ``WorkflowError`` for a record written by hand.
    public func workflowInfo(_ id: String) async throws -> WorkflowInfo? {
        let f = try await redis.send("HGETALL", keys.workflow(id)).hash ?? [:]
        guard let doc = f["doc"], let state = f["state"] else { return nil }
        func date(_ k: String) -> Date? { f[k].flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) } }
        return WorkflowInfo(
            id: id, state: state, tree: try WorkflowNode(document: try JSONValue(parsing: Data(SignatureMember.stripped(Array(doc.utf8))))),
            result: f["result"].flatMap { try? JSONValue(parsing: Data($0.utf8)) },
            error: f["error"].flatMap { try? JSONDecoder().decode(TaskFailure.self, from: Data($0.utf8)) },
            failedStep: f["failed_step"].flatMap(WorkflowPath.init), createdAt: date("created_at"), finishedAt: date("finished_at"))
    }

    /// Waits until workflow `id` ends and returns its record (still running at the timeout:
    /// the running record).
    /// - Throws: ``KaleError`` `.notFound` when there is no such workflow, ``RedisError``.
    public func waitForWorkflow(_ id: String, timeout: Duration = .seconds(60)) async throws -> WorkflowInfo {
        let deadline = ContinuousClock.now + timeout
        while true {
            // The state alone while it runs: the record holds the whole tree.
            guard let state = try await redis.send("HGET", keys.workflow(id), "state").string else {
                throw KaleError(.notFound, detail: "no workflow \(id)")
            }
            if state != "running" || ContinuousClock.now >= deadline {
                guard let info = try await workflowInfo(id) else { throw KaleError(.notFound, detail: "no workflow \(id)") }
                return info
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

extension KaleClient {
    /// The task records of a workflow's steps that exist (created, not expired), by path: one
    /// pipelined read of every step's record.
    /// - Throws: ``RedisError``.
    public func workflowSteps(_ info: WorkflowInfo) async throws -> [WorkflowPath: TaskInfo] {
        let steps = info.tree.steps()
        var out: [WorkflowPath: TaskInfo] = [:]
        for chunk in stride(from: 0, to: steps.count, by: 1000) {
            let part = steps[chunk..<min(chunk + 1000, steps.count)]
            let replies = try await redis.pipeline(part.map {
                RedisCommand("HGETALL", keys.task($0.step.options.queue ?? configuration.defaultQueue, Self.workflowStepID(info.id, $0.path)))
            })
            for (s, r) in zip(part, replies) {
                let id = Self.workflowStepID(info.id, s.path)
                if let t = TaskInfo(id: id, queue: s.step.options.queue ?? configuration.defaultQueue, fields: r.hash ?? [:]) { out[s.path] = t }
            }
        }
        return out
    }
}
