import Foundation
import KaleRedis

extension KaleClient {
    /// A submitted workflow.
    public struct WorkflowRef: Sendable, Hashable {
        public var id: String
    }

    /// Submits `workflow` with `input` (what its first steps without `args` receive): records
    /// it in its own slot, then enqueues its first steps. Each step's queue is settled here
    /// (its own, else `defaults`' for its task, else the client's default queue) and stored in
    /// the record, so every worker that carries the workflow on sends each step to the same
    /// queue (decision 0024).
    /// - Throws: ``WorkflowError`` for a tree over the limits, ``KaleError``, ``RedisError``.
    ///
    /// `onError` runs once if the workflow fails (not when it is cancelled), with
    /// `{"workflow", "step", "error"}` as its input. With `collectFailures` a step that fails
    /// for good does not fail the workflow: its output is `{"error": <its error>}` (a chord
    /// then gets every member's outcome).
    public func submit(_ workflow: WorkflowNode, input: JSONValue = .object([:]), id: String? = nil,
                       ttl: Duration? = nil, onError: WorkflowStep? = nil, collectFailures: Bool = false,
                       defaults: @Sendable (String) -> EnqueueOptions? = { _ in nil }) async throws -> WorkflowRef {
        let wid = id ?? ("wf-" + TaskID.random())
        if let problem = TaskID.problem(with: wid) { throw KaleError(.invalidOptions, detail: problem) }
        let settled = Self.settleQueues(workflow, defaults: defaults, fallback: configuration.defaultQueue)
        // What is stored is what every forward reads back: a tree the document form refuses
        // (an empty group, nesting too deep, a duration it cannot hold) is refused here.
        let document = settled.document
        guard try WorkflowNode(document: document) == settled else {
            throw WorkflowError("the workflow holds options its stored form cannot keep")
        }
        // A step's stored result becomes the next step's input as it is: an encrypted one
        // would reach its successor as ciphertext (docs/security.md). Refused up front rather
        // than at the forward, where it would stall the workflow.
        let steps = settled.steps().map(\.step) + (onError.map { [$0] } ?? [])
        if let secret = steps.first(where: { $0.options.merged(over: defaults($0.task) ?? EnqueueOptions()).encrypted == true }) {
            throw KaleError(.invalidOptions, detail: "task \(secret.task) asks for encryption, which workflow steps cannot have yet")
        }
        if let longest = settled.steps().map({ Self.workflowStepID(wid, $0.path) }).max(by: { $0.utf8.count < $1.utf8.count }),
           let problem = TaskID.problem(with: longest) {
            throw KaleError(.invalidOptions, detail: "step ids of this workflow would be too long: \(problem)")
        }
        // Signed (by a client that signs) for this workflow alone: a worker makes every later
        // step from it, so a tree written or swapped by hand must not become signed tasks.
        let doc = try signed(document.jsonString, as: Self.workflowContext(wid, collect: collectFailures))
        let keep = (ttl ?? configuration.resultTTL).milliseconds
        let key = keys.workflow(wid)
        var extra: [RedisCommand] = []
        if let onError, case .step(let settledError) = Self.settleQueues(.step(onError), defaults: defaults, fallback: configuration.defaultQueue) {
            extra.append(RedisCommand("HSETNX", key, "on_error", try signed(WorkflowNode.step(settledError).document.jsonString,
                                                                            as: Self.workflowErrorContext(wid))))
        }
        if collectFailures { extra.append(RedisCommand("HSETNX", key, "collect", 1)) }
        // The id first, alone: a refused duplicate must change nothing of the workflow it names.
        guard try await redis.send("HSETNX", key, "doc", doc).int == 1 else {
            throw KaleError(.duplicateID, detail: "a workflow with id \(wid) exists")
        }
        try await redis.checkedPipeline(extra + [
            RedisCommand("HSETNX", key, "state", "running"),
            RedisCommand("HSETNX", key, "created_at", Broker.now()),
            RedisCommand("HSETNX", key, "ttl", keep),
            // A workflow whose submitter died before its first steps were sent ends by expiry.
            RedisCommand("PEXPIRE", key, keep + 7 * 86_400_000),
        ])
        try await enqueueSteps(of: wid, WorkflowPlan(settled).starts(at: .root, input: input), defaults: defaults)
        return WorkflowRef(id: wid)
    }

    /// Every step's queue written into the tree.
    static func settleQueues(_ node: WorkflowNode, defaults: (String) -> EnqueueOptions?, fallback: String) -> WorkflowNode {
        func settle(_ n: WorkflowNode) -> WorkflowNode {
            switch n {
            case .step(var s):
                s.options.queue = s.options.queue ?? defaults(s.task)?.queue ?? fallback
                return .step(s)
            case .chain(let nodes): return .chain(nodes.map(settle))
            case .group(let nodes): return .group(nodes.map(settle))
            case .chord(let group, let then): return .chord(group: group.map(settle), then: settle(then))
            }
        }
        return settle(node)
    }

    /// The task id of the step at `path` of workflow `id`.
    public static func workflowStepID(_ id: String, _ path: WorkflowPath) -> String { "\(id):\(path)" }

    /// Enqueues steps of workflow `id` under their deterministic ids; a step that exists
    /// already (a replayed forward) is left as it is.
    func enqueueSteps(of id: String, _ starts: [WorkflowPlan.Start], defaults: (String) -> EnqueueOptions?) async throws {
        guard !starts.isEmpty else { return }
        let now = Broker.now()
        var commands: [RedisCommand] = []
        for queue in Set(starts.compactMap(\.step.options.queue)) {
            if let announce = registration(for: queue, now: now) { commands.append(announce) }
        }
        let first = commands.count
        for s in starts {
            var options = s.step.options.merged(over: defaults(s.step.task) ?? EnqueueOptions())
            options.id = Self.workflowStepID(id, s.path)
            // The step's id is its uniqueness; a registered unique key held by another task
            // would leave the step uncreated and the workflow stalled.
            options.uniqueKey = nil
            options.headers["kale-workflow"] = id
            let prepared = try prepare(name: s.step.task, args: s.input, options: options, now: now)
            let (k, a) = broker.creation(prepared.envelope, message: prepared.message, uniqueTTL: nil, now: now,
                                         workflowStep: "\(id)|\(s.path)")
            commands.append(Scripts.enqueue.command(keys: k, arguments: a))
        }
        let replies = try await redis.pipeline(commands)
        for (command, r) in zip(commands[first...], replies[first...]) {
            if case .error(let message) = r, !message.contains("DUPLICATE") { throw RedisError(serverReply: message, to: command, user: redis.configuration.url.user) }
        }
    }

    /// The tree of workflow `id`, as submitted (queues settled), or nil when there is none;
    /// verified by a client whose format verifies signatures, as a worker making its steps
    /// needs it. `verified: false` only strips the signature (a cancel makes no task).
    /// - Throws: ``MessageRefused`` for a tree that does not verify, ``WorkflowError``.
    public func workflowTree(_ id: String, verified: Bool = true) async throws -> WorkflowNode? {
        if let tree = workflowTrees.tree(id) { return tree }
        let f = try await redis.send("HMGET", keys.workflow(id), "doc", "collect").array ?? []
        guard let doc = f.first?.string else { return nil }
        // Collecting failures is signed with the tree (it turns errors into inputs), so the
        // flag cannot be switched on beside a signed tree.
        let context = Self.workflowContext(id, collect: f.count > 1 && f[1].string == "1")
        let plain = verified ? try configuration.format.verify(document: Array(doc.utf8), context: context)
                             : SignatureMember.stripped(Array(doc.utf8))
        let tree = try WorkflowNode(document: try JSONValue(parsing: Data(plain)))
        // Only a tree that verified is kept: the cache is what later forwards trust.
        if verified { workflowTrees.remember(id, tree) }
        return tree
    }

    /// What a workflow's stored tree and error callback are signed as: bound to the workflow,
    /// so neither verifies in another workflow's record.
    static func workflowContext(_ id: String, collect: Bool) -> String { "workflow:\(id)" + (collect ? ":collect-failures" : "") }
    static func workflowErrorContext(_ id: String) -> String { "workflow-on-error:\(id)" }
    /// What a workflow step's result is signed as, by the worker that ran step `id`.
    public static func stepResultContext(_ id: String) -> String { "step-result:\(id)" }
    /// What a group member's output is signed as in its join (``Keys/workflowJoin(_:_:)``).
    static func joinContext(_ id: String, _ group: WorkflowPath, _ index: Int) -> String { "workflow-join:\(id):\(group):\(index)" }

    /// `json` as stored: signed for `context` by a client that signs.
    func signed(_ json: String, as context: String) throws -> String {
        String(decoding: try configuration.format.sign(document: Array(json.utf8), context: context), as: UTF8.self)
    }
}
