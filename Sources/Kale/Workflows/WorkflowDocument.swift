import KaleRedis

/// Why a workflow document was refused, with where in it (`$.chain[1].group[0]`).
public struct WorkflowError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The JSON form of a workflow (`kale workflow submit FILE.json`, and how it is stored):
///
/// - a step: `{"task": NAME, "args"?: JSON, "queue"?, "priority"?, "retries"?, "time_limit"?,
///   "soft_time_limit"?}`; a step with `args` ignores what came before, one without receives it;
/// - `{"chain": [node, …]}`, `{"group": [node, …]}`, `{"chord": {"group": [node, …], "then": node}}`.
///
/// Everything is checked before anything is enqueued: unknown keys, empty chains and groups,
/// wrong types, nesting deeper than ``WorkflowNode/maximumDepth``, more than
/// ``WorkflowNode/maximumSteps`` steps.
extension WorkflowNode {
    private static let stepKeys: Set<String> = ["task", "args", "queue", "priority", "retries", "time_limit", "soft_time_limit"]

    /// Reads a workflow document.
    /// - Throws: ``WorkflowError`` naming the place and the problem.
    public init(document: JSONValue) throws {
        var steps = 0
        self = try Self.parse(document, at: "$", depth: 1, steps: &steps)
    }

    private static func parse(_ value: JSONValue, at place: String, depth: Int, steps: inout Int) throws -> WorkflowNode {
        guard depth <= maximumDepth else {
            throw WorkflowError("\(place): nested deeper than \(maximumDepth) levels")
        }
        guard case .object(let o) = value else { throw WorkflowError("\(place): expected an object (a step, chain, group or chord)") }
        let kinds = ["task", "chain", "group", "chord"].filter { o[$0] != nil }
        guard kinds.count == 1 else {
            throw WorkflowError(kinds.isEmpty ? "\(place): needs one of task, chain, group or chord"
                                              : "\(place): has \(kinds.joined(separator: " and ")); a node is one of them")
        }
        switch kinds[0] {
        case "task":
            if let bad = o.keys.sorted().first(where: { !stepKeys.contains($0) }) {
                throw WorkflowError("\(place): unknown key '\(bad)' (a step takes \(stepKeys.sorted().joined(separator: ", ")))")
            }
            steps += 1
            guard steps <= maximumSteps else { throw WorkflowError("\(place): more than \(maximumSteps) steps") }
            return .step(try step(o, at: place))
        case "chain", "group":
            let kind = kinds[0]
            if let bad = o.keys.first(where: { $0 != kind }) { throw WorkflowError("\(place): unknown key '\(bad)' beside '\(kind)'") }
            let nodes = try list(o[kind], at: "\(place).\(kind)", depth: depth, steps: &steps)
            return kind == "chain" ? .chain(nodes) : .group(nodes)
        default:
            if let bad = o.keys.first(where: { $0 != "chord" }) { throw WorkflowError("\(place): unknown key '\(bad)' beside 'chord'") }
            guard case .object(let c)? = o["chord"] else { throw WorkflowError("\(place).chord: expected {\"group\": [...], \"then\": node}") }
            if let bad = c.keys.sorted().first(where: { $0 != "group" && $0 != "then" }) {
                throw WorkflowError("\(place).chord: unknown key '\(bad)' (a chord takes group and then)")
            }
            let group = try list(c["group"], at: "\(place).chord.group", depth: depth + 1, steps: &steps)
            guard let then = c["then"] else { throw WorkflowError("\(place).chord: needs 'then', the node that gets the group's results") }
            return .chord(group: group, then: try parse(then, at: "\(place).chord.then", depth: depth + 1, steps: &steps))
        }
    }

    private static func list(_ value: JSONValue?, at place: String, depth: Int, steps: inout Int) throws -> [WorkflowNode] {
        guard case .array(let items)? = value else { throw WorkflowError("\(place): expected an array of nodes") }
        guard !items.isEmpty else { throw WorkflowError("\(place): is empty") }
        return try items.enumerated().map { try parse($1, at: "\(place)[\($0)]", depth: depth + 1, steps: &steps) }
    }

    private static func step(_ o: [String: JSONValue], at place: String) throws -> WorkflowStep {
        guard case .string(let task)? = o["task"], !task.isEmpty, task.utf8.count <= 200 else {
            throw WorkflowError("\(place).task: expected a task name (1-200 bytes)")
        }
        var options = EnqueueOptions()
        if let q = o["queue"] {
            guard case .string(let name) = q, Keys.isValidQueueName(name) else {
                throw WorkflowError("\(place).queue: expected a queue name (1-200 letters, digits, '.', '_' or '-')")
            }
            options.queue = name
        }
        if let p = o["priority"] {
            guard case .string(let text) = p, let priority = Priority(rawValue: text) else {
                throw WorkflowError("\(place).priority: expected high, normal or low")
            }
            options.priority = priority
        }
        if let r = o["retries"] {
            guard case .number(let n) = r, n >= 0, n <= 1000, n == n.rounded() else {
                throw WorkflowError("\(place).retries: expected a whole number 0-1000")
            }
            options.maxRetries = Int(n)
        }
        options.timeLimit = try duration(o["time_limit"], at: "\(place).time_limit")
        options.softTimeLimit = try duration(o["soft_time_limit"], at: "\(place).soft_time_limit")
        return WorkflowStep(task: task, args: o["args"], options: options)
    }

    /// Seconds as a number, or a duration text (`30s`, `5m`): 1 ms to 10 years either way,
    /// so what is read can always be written back and read again.
    private static func duration(_ value: JSONValue?, at place: String) throws -> Duration? {
        switch value {
        case nil: return nil
        case .number(let s)?:
            let ms = (s * 1000).rounded()
            guard ms >= 1, ms <= Double(IntervalText.maximumMilliseconds) else {
                throw WorkflowError("\(place): expected 0.001 s to 10 years")
            }
            return .milliseconds(Int64(ms))
        case .string(let text)?:
            if let ms = try? IntervalText.milliseconds(text, minimum: 1) { return .milliseconds(ms) }
            throw WorkflowError("\(place): '\(text)' is not a duration (30s, 5m, 2h)")
        default: throw WorkflowError("\(place): expected seconds or a duration such as 30s")
        }
    }

    /// The document of this node, in the form ``init(document:)`` reads.
    public var document: JSONValue {
        switch self {
        case .step(let s):
            var o: [String: JSONValue] = ["task": .string(s.task)]
            if let args = s.args { o["args"] = args }
            if let q = s.options.queue { o["queue"] = .string(q) }
            if let p = s.options.priority { o["priority"] = .string(p.rawValue) }
            if let r = s.options.maxRetries { o["retries"] = .number(Double(r)) }
            if let t = s.options.timeLimit { o["time_limit"] = .number(Double(t.milliseconds) / 1000) }
            if let t = s.options.softTimeLimit { o["soft_time_limit"] = .number(Double(t.milliseconds) / 1000) }
            return .object(o)
        case .chain(let nodes): return .object(["chain": .array(nodes.map(\.document))])
        case .group(let nodes): return .object(["group": .array(nodes.map(\.document))])
        case .chord(let group, let then):
            return .object(["chord": .object(["group": .array(group.map(\.document)), "then": then.document])])
        }
    }
}

/// What `kale workflow submit` reads: a bare node, or `{"workflow": node, "input"?: JSON,
/// "on_error"?: step, "collect_failures"?: bool}` for the options of
/// ``KaleClient/submit(_:input:id:ttl:onError:collectFailures:defaults:)``.
public struct WorkflowRequest: Sendable, Hashable {
    public var workflow: WorkflowNode
    public var input: JSONValue
    public var onError: WorkflowStep?
    public var collectFailures: Bool

    /// - Throws: ``WorkflowError`` naming the place and the problem.
    public init(document: JSONValue) throws {
        guard case .object(let o) = document, let node = o["workflow"] else {
            self.init(workflow: try WorkflowNode(document: document))
            return
        }
        if let bad = o.keys.sorted().first(where: { !["workflow", "input", "on_error", "collect_failures"].contains($0) }) {
            throw WorkflowError("$: unknown key '\(bad)' (a request takes workflow, input, on_error and collect_failures)")
        }
        var onError: WorkflowStep?
        if let e = o["on_error"] {
            guard case .step(let step) = try WorkflowNode(document: e) else { throw WorkflowError("$.on_error: expected a step") }
            onError = step
        }
        var collect = false
        if let c = o["collect_failures"] {
            guard case .bool(let b) = c else { throw WorkflowError("$.collect_failures: expected true or false") }
            collect = b
        }
        self.init(workflow: try WorkflowNode(document: node), input: o["input"] ?? .object([:]), onError: onError, collectFailures: collect)
    }

    public init(workflow: WorkflowNode, input: JSONValue = .object([:]), onError: WorkflowStep? = nil, collectFailures: Bool = false) {
        self.workflow = workflow
        self.input = input
        self.onError = onError
        self.collectFailures = collectFailures
    }
}
