public import Kale

/// A task taken over from Celery, as the worker sees it: its arguments to map, and what
/// Celery expects to happen after it (`../shared/CELERY.md` §1.4).
public struct CeleryRequest: Sendable {
    public let id: String
    public let task: String
    public let args: [JSONValue]
    public let kwargs: [String: JSONValue]
    public let embed: [String: JSONValue]
    public let rootID: String?
    /// The message's priority (0-9), passed on to callbacks that set none, as Celery does.
    public let priority: Int?
    public let retries: Int
    /// W3C trace context (`traceparent`, `tracestate`) the message carried: passed on to the
    /// messages this task sends, so one trace runs through a chain across both fleets.
    public let traceHeaders: [String: String]

    /// The request an envelope carries, or nil for a Kale message.
    public init?(_ envelope: Envelope) {
        guard case .object(let r)? = envelope.celery else { return nil }
        id = r["id"]?.stringValue ?? envelope.id
        task = r["task"]?.stringValue ?? envelope.name
        args = r["args"]?.arrayValue ?? []
        kwargs = r["kwargs"]?.objectValue ?? [:]
        embed = r["embed"]?.objectValue ?? [:]
        rootID = r["root_id"]?.stringValue
        priority = r["priority"]?.doubleValue.map { Int($0) }
        retries = Int(r["retries"]?.doubleValue ?? 0)
        traceHeaders = envelope.headers.filter { $0.key == "traceparent" || $0.key == "tracestate" }
    }

    /// The task's input: the keyword arguments, with positional ones named by `names` (the
    /// task's ``Kale/TaskDefinition/argumentNames``), as Python binds a call's arguments.
    ///
    /// - Throws: ``Kale/TaskFailure`` `InvalidInput` naming the problem (more positional
    ///   arguments than names, a name given twice).
    public func arguments(names: [String]) throws -> JSONValue {
        guard !args.isEmpty else { return .object(kwargs) }
        guard args.count <= names.count else {
            let takes = names.isEmpty ? "keyword arguments only (it declares no argumentNames)"
                : "at most \(names.count) positional argument\(names.count == 1 ? "" : "s") (\(names.joined(separator: ", ")))"
            throw TaskFailure.rejected("task '\(task)' takes \(takes), but \(args.count) were given", type: "InvalidInput")
        }
        var input = kwargs
        for (name, value) in zip(names, args) {
            guard input[name] == nil else {
                throw TaskFailure.rejected("task '\(task)' got multiple values for argument '\(name)'", type: "InvalidInput")
            }
            input[name] = value
        }
        return .object(input)
    }

    /// Why this request cannot run on a Kale worker, or nil. A chord header needs Celery's
    /// chord counter in its result backend (CELERY.md §3.6), which Kale does not keep; a
    /// callback that is itself a chain, group or chord would need Celery's canvas to expand.
    public var unsupported: String? {
        if let chord = embed["chord"], chord != .null {
            return "this task is the header of a Celery chord; chord headers must run on Celery workers (route the chord's tasks to a Celery queue)"
        }
        for key in ["callbacks", "errbacks", "chain"] {
            for sig in embed[key]?.arrayValue ?? [] {
                if let kind = sig["subtask_type"]?.stringValue {
                    return "a \(key == "chain" ? "chain step" : "callback") of this task is a Celery \(kind), which a Kale worker cannot expand; link single tasks, or run the canvas on Celery workers"
                }
            }
        }
        return nil
    }

    /// The id of the chord body whose header this task is: it must fail too (ChordError) when
    /// the header is refused, or the chord's `get()` would wait for ever.
    public var chordBodyID: String? { embed["chord"]?["options"]?["task_id"]?.stringValue }

    /// Celery's result for the chord body when its header was refused.
    public func chordBodyFailure(_ why: String) throws -> [UInt8] {
        guard let id = chordBodyID else { return [] }
        return try JSONValue.object([
            "status": "FAILURE",
            "result": .object(["exc_type": "ChordError", "exc_message": .array([.string("dependency \(self.id) refused: \(why)")]),
                               "exc_module": "celery.exceptions"]),
            "traceback": .null, "children": .array([]), "date_done": .string(CeleryMessageWriter.iso(Broker.now())),
            "task_id": .string(id),
        ]).bytes()
    }

    /// The messages a Celery worker sends when this task succeeds with `result`: every `link`
    /// callback, and the next step of its chain carrying the rest of the chain, each with the
    /// result as its first argument unless the signature is immutable.
    public func successors(of result: JSONValue, configuration: CeleryConfiguration, writer: CeleryMessageWriter) throws -> [Broker.Forward] {
        var out: [Broker.Forward] = []
        for sig in embed["callbacks"]?.arrayValue ?? [] {
            out.append(try forward(sig, prepend: result, chain: nil, configuration, writer))
        }
        if var chain = embed["chain"]?.arrayValue, let next = chain.popLast() {
            // Stored reversed: the next step is the last element (CELERY.md §1.4).
            out.append(try forward(next, prepend: result, chain: chain, configuration, writer))
        }
        return out
    }

    /// The messages sent when this task fails for good: every `link_error` signature, called
    /// with the failed task's id, as Celery calls errbacks that do not take (request, exc,
    /// traceback).
    public func errbacks(configuration: CeleryConfiguration, writer: CeleryMessageWriter) throws -> [Broker.Forward] {
        try (embed["errbacks"]?.arrayValue ?? []).map { try forward($0, prepend: .string(id), chain: nil, configuration, writer) }
    }

    private func forward(_ sig: JSONValue, prepend value: JSONValue, chain: [JSONValue]?, _ configuration: CeleryConfiguration,
                         _ writer: CeleryMessageWriter) throws -> Broker.Forward {
        guard case .object(let s) = sig, let task = s["task"]?.stringValue else {
            throw TaskFailure.rejected("a callback of task '\(self.task)' is not a Celery signature", type: "InvalidCallback")
        }
        let options = s["options"]?.objectValue ?? [:]
        let immutable = s["immutable"] == .bool(true)
        var args = s["args"]?.arrayValue ?? []
        if !immutable { args.insert(value, at: 0) }
        // As a Celery worker's apply_async: the signature's queue, else the app's routes.
        let queue = options["queue"]?.stringValue ?? options["routing_key"]?.stringValue ?? configuration.queue(for: task)
        let priority = options["priority"]?.doubleValue.map { Int($0) } ?? self.priority ?? 0
        var embed: [String: JSONValue] = [:]
        if let chain, !chain.isEmpty { embed["chain"] = .array(chain) }
        for (name, key) in [("link", "callbacks"), ("link_error", "errbacks")] {
            if let v = options[name], v != .null { embed[key] = v.arrayValue.map { .array($0) } ?? .array([v]) }
        }
        if let chord = options["chord"], chord != .null { embed["chord"] = chord }
        var call = CeleryMessageWriter.Call(
            task: task, args: args, kwargs: s["kwargs"]?.objectValue ?? [:], queue: queue, priority: priority,
            rootID: rootID ?? id, parentID: id, groupID: options["group_id"]?.stringValue, embed: embed, headers: traceHeaders)
        if let given = options["task_id"]?.stringValue { call.id = given }
        if let countdown = options["countdown"]?.doubleValue { call.eta = Broker.now() + Int64(countdown * 1000) }
        if let eta = options["eta"]?.stringValue.flatMap(CeleryMessageWriter.ms(iso:)) { call.eta = eta }
        switch options["expires"] {
        case .number(let seconds)?: call.expires = Broker.now() + Int64(seconds * 1000)
        case .string(let iso)?: call.expires = CeleryMessageWriter.ms(iso: iso)
        default: break
        }
        if let limit = options["time_limit"]?.doubleValue { call.hardTimeLimit = limit }
        if let limit = options["soft_time_limit"]?.doubleValue { call.softTimeLimit = limit }
        return Broker.Forward(list: configuration.keys.bucket(queue, priority: priority), message: try writer.envelope(call))
    }
}
