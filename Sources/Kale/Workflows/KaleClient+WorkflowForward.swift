import Foundation
import KaleRedis

extension KaleClient {
    /// Carries the end of step `stepID` (a task of `queue` whose record names its workflow)
    /// to its workflow: what follows is enqueued, a group's output recorded, the workflow
    /// ended. Every part is idempotent (deterministic ids, HSETNX joins), so a replay after a
    /// crash repeats nothing (decision 0024).
    /// - Returns: false when the step is not a workflow's or not ended (nothing to carry).
    /// - Throws: ``RedisError``; the caller keeps the outbox entry and tries again.
    @discardableResult
    public func forwardWorkflowStep(_ stepID: String, queue: String, defaults: @Sendable (String) -> EnqueueOptions? = { _ in nil }) async throws -> Bool {
        let f = try await redis.send("HMGET", keys.task(queue, stepID), "wf", "state", "result", "error", "result_sig").array ?? []
        guard f.count == 5, let mark = f[0].string, let bar = mark.lastIndex(of: "|"),
              let path = WorkflowPath(String(mark[mark.index(after: bar)...])), let state = f[1].string.flatMap(TaskState.init(rawValue:))
        else { return false }
        let wid = String(mark[..<bar])
        // A step's id and queue are fixed by its place in the tree: a record (with a signed
        // result copied into it) that names another workflow or place is not that step.
        guard stepID == Self.workflowStepID(wid, path) else { return true }
        let tree: WorkflowNode
        do {
            guard let stored = try await workflowTree(wid) else { return true }
            tree = stored
        } catch let refused as MessageRefused {
            // A tree that does not verify (written or swapped by hand) makes no step: the
            // workflow fails with the reason, and the steps already made end on their own.
            try await redis.run(Scripts.workflowEnd, keys: [keys.workflow(wid)],
                                arguments: ["failed", Broker.now(), Self.refusal(refused), path.description, keys.doneChannel(wid)])
            return true
        }
        guard case .step(let placed)? = tree.node(at: path), (placed.options.queue ?? configuration.defaultQueue) == queue else { return true }
        let plan = WorkflowPlan(tree)
        switch state {
        case .succeeded:
            let result = f[2].string ?? ""
            let value = (try? JSONValue(parsing: Data(result.utf8))) ?? .null
            do {
                // Checked before it becomes a next step's input (decision 0029).
                try configuration.format.verify(value: Array(result.utf8), signature: f[4].string,
                                                context: Self.stepResultContext(stepID))
                try await advance(wid, plan, after: path, value: value, defaults: defaults)
            } catch let refused as MessageRefused {
                try await endWorkflow(wid, plan, state: "failed", value: Self.refusal(refused), failedStep: path, defaults: defaults)
            } catch let e as KaleError {
                // What follows cannot be made (its input over the size limit): retrying would
                // fail the same way for ever, so the workflow fails, at the step that came first.
                let error = JSONValue.object(["kind": "rejected", "type": "CannotStartNextStep", "message": .string(e.description),
                                              "retryable": false]).jsonString
                try await endWorkflow(wid, plan, state: "failed", value: error, failedStep: path, defaults: defaults)
            }
        case .dead, .failed, .cancelled, .expired:
            let error = f[3].string ?? #"{"kind":"error","type":"StepFailed","message":"the step ended \#(state.rawValue)","retryable":false}"#
            let options = try await redis.send("HMGET", keys.workflow(wid), "collect", "state").array ?? []
            if options.first?.string == "1", options.count > 1, options[1].string == "running" {
                // Failures collected as values: the workflow goes on with the error as output.
                let value = JSONValue.object(["error": (try? JSONValue(parsing: Data(error.utf8))) ?? .string(error)])
                do { try await advance(wid, plan, after: path, value: value, defaults: defaults) }
                catch let refused as MessageRefused {
                    try await endWorkflow(wid, plan, state: "failed", value: Self.refusal(refused), failedStep: path, defaults: defaults)
                }
            } else {
                try await endWorkflow(wid, plan, state: "failed", value: error, failedStep: path, defaults: defaults)
            }
        default:
            return false
        }
        return true
    }

    private func advance(_ wid: String, _ plan: WorkflowPlan, after path: WorkflowPath, value: JSONValue,
                         defaults: (String) -> EnqueueOptions?) async throws {
        var next = plan.after(path, value: value)
        while true {
            switch next {
            case .start(let starts):
                // A failed or cancelled workflow starts nothing more (its not-yet-created steps
                // were written as cancelled, so a start that races the end meets DUPLICATE).
                guard try await redis.send("HGET", keys.workflow(wid), "state").string == "running" else { return }
                try await enqueueSteps(of: wid, starts, defaults: defaults)
                return
            case .join(let group, let index, let count, let output):
                // Kept as `{"o": output}`, signed for its place by a signing worker: the chord's
                // callback takes the outputs as its input.
                let entry = try signed(JSONValue.object(["o": output]).jsonString, as: Self.joinContext(wid, group, index))
                let reply = try await redis.run(Scripts.workflowJoin, keys: [keys.workflow(wid), keys.workflowJoin(wid, group.description)],
                                                arguments: [index, entry, count])
                let parts = reply.array ?? []
                guard parts.first?.int == 1 else { return }
                let outputs = try parts.dropFirst().enumerated().map { i, part in
                    try joinOutput(part.string ?? "", Self.joinContext(wid, group, i))
                }
                next = plan.after(group, value: .array(outputs))
            case .finish(let output):
                try await redis.run(Scripts.workflowEnd, keys: [keys.workflow(wid)],
                                    arguments: ["succeeded", Broker.now(), output.jsonString, "", keys.doneChannel(wid)])
                try await expireTogether(wid, plan)
                return
            }
        }
    }

    /// A group member's output from its join entry, verified for its place.
    private func joinOutput(_ entry: String, _ context: String) throws -> JSONValue {
        let plain = try configuration.format.verify(document: Array(entry.utf8), context: context)
        guard let value = try? JSONValue(parsing: Data(plain)) else { return .null }
        // An entry written before outputs were wrapped is the output itself.
        if case .object(let fields) = value, fields.count == 1, let output = fields["o"] { return output }
        return value
    }

    /// The error a workflow fails with when what it would pass on does not verify.
    static func refusal(_ refused: MessageRefused) -> String {
        JSONValue.object(["kind": "rejected", "type": .string(refused.type), "message": .string(refused.reason),
                          "retryable": false]).jsonString
    }

    /// Ends workflow `wid` failed or cancelled: records why, then cancels every step that
    /// has not ended (a running one is asked to stop) and writes the ones not yet created as
    /// cancelled, so nothing of it runs any more.
    @discardableResult
    func endWorkflow(_ wid: String, _ plan: WorkflowPlan, state: String, value: String, failedStep: WorkflowPath?,
                     defaults: (String) -> EnqueueOptions? = { _ in nil }) async throws -> Bool {
        let ended = try await redis.run(Scripts.workflowEnd, keys: [keys.workflow(wid)],
                                        arguments: [state, Broker.now(), value, failedStep?.description ?? "", keys.doneChannel(wid)]).int == 1
        // The pass over the steps is made by the end that ended it, and again by a replay of
        // that end (its taker died mid-pass); the steps it cancels end too, and their own
        // forwards must not make a pass each.
        if !ended {
            guard let failedStep,
                  try await redis.send("HGET", keys.workflow(wid), "failed_step").string == failedStep.description else { return false }
        }
        let steps = plan.root.steps().map { (id: Self.workflowStepID(wid, $0.path), queue: $0.step.options.queue ?? configuration.defaultQueue) }
        let now = Broker.now()
        let tombstones = try await redis.pipeline(steps.map { s in
            Scripts.workflowTombstone.command(keys: [keys.task(s.queue, s.id)], arguments: [now, configuration.resultTTL.milliseconds])
        })
        for (s, r) in zip(steps, tombstones) where r.int == 0 {
            _ = try await broker.cancel(id: s.id, queue: s.queue)
        }
        if state == "failed", let failedStep { try await startErrorCallback(wid, failedStep: failedStep, error: value, defaults: defaults) }
        try await expireTogether(wid, plan)
        return ended
    }

    /// Gives every record of an ended workflow (its steps and its groups' outputs) the
    /// workflow's own TTL from now, so they expire with it. A step still running (asked to
    /// stop) sets its own again when it ends. Replays set the same.
    private func expireTogether(_ wid: String, _ plan: WorkflowPlan) async throws {
        let ttl = try await redis.send("HGET", keys.workflow(wid), "ttl").string.flatMap { Int64($0) } ?? configuration.resultTTL.milliseconds
        let stepKeys = plan.root.steps().map { keys.task($0.step.options.queue ?? configuration.defaultQueue, Self.workflowStepID(wid, $0.path)) }
        for chunk in stride(from: 0, to: stepKeys.count, by: 1000) {
            let part = Array(stepKeys[chunk..<min(chunk + 1000, stepKeys.count)])
            let states = try await redis.pipeline(part.map { RedisCommand("HGET", $0, "state") })
            // A dead step stays in its dead set with its record (kept until retried or purged);
            // a running one sets its own expiry when it ends.
            let ended = zip(part, states).filter { ["succeeded", "failed", "cancelled", "expired"].contains($0.1.string ?? "") }
            if !ended.isEmpty { _ = try await redis.pipeline(ended.map { RedisCommand("PEXPIRE", $0.0, ttl) }) }
        }
        _ = try await redis.pipeline(plan.groupPaths().map { RedisCommand("PEXPIRE", keys.workflowJoin(wid, $0.description), ttl) } + [RedisCommand("PING")])
    }

    /// Enqueues the workflow's error callback, once (its id is `<workflow>:on_error`), with
    /// the failure as its input. It is not a step: its own end carries nothing on.
    private func startErrorCallback(_ wid: String, failedStep: WorkflowPath, error: String,
                                    defaults: (String) -> EnqueueOptions?) async throws {
        guard let doc = try await redis.send("HGET", keys.workflow(wid), "on_error").string else { return }
        // One that does not verify is not run; the workflow has failed already, with its own error.
        guard let plain = try? configuration.format.verify(document: Array(doc.utf8), context: Self.workflowErrorContext(wid)),
              case .step(let step) = try WorkflowNode(document: try JSONValue(parsing: Data(plain))) else { return }
        var options = step.options.merged(over: defaults(step.task) ?? EnqueueOptions())
        options.id = "\(wid):on_error"
        options.headers["kale-workflow"] = wid
        let input = JSONValue.object(["workflow": .string(wid), "step": .string(failedStep.description),
                                      "error": (try? JSONValue(parsing: Data(error.utf8))) ?? .string(error)])
        do { _ = try await enqueue(name: step.task, args: input, options: options) }
        catch let e as KaleError where e.code == .duplicateID {
            // A replay of this end: the callback was enqueued the first time.
        }
    }

    /// Cancels workflow `id`: its running steps are asked to stop (within a second), its
    /// waiting ones end cancelled, and none not yet started ever will.
    /// - Returns: false when it had ended already or does not exist.
    @discardableResult
    public func cancelWorkflow(_ id: String) async throws -> Bool {
        guard let tree = try await workflowTree(id, verified: false),
              try await redis.send("HGET", keys.workflow(id), "state").string == "running" else { return false }
        let error = #"{"kind":"cancelled","type":"Cancelled","message":"the workflow was cancelled","retryable":false}"#
        return try await endWorkflow(id, WorkflowPlan(tree), state: "cancelled", value: error, failedStep: nil)
    }
}
