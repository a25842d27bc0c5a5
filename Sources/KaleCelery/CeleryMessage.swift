import Foundation
public import Kale

/// A Celery protocol 2 message as kombu's Redis transport stores it (`../shared/CELERY.md` §1):
/// a JSON envelope of headers and properties around a base64 body `[args, kwargs, embed]`.
public struct CeleryMessage: Sendable, Hashable {
    /// The task message's headers (`id`, `task`, `eta`, `expires`, `timelimit`, `root_id` …).
    public var headers: [String: JSONValue]
    /// Transport properties (`delivery_info`, `priority`, `delivery_tag` …).
    public var properties: [String: JSONValue]
    public var args: [JSONValue]
    public var kwargs: [String: JSONValue]
    /// `callbacks`, `errbacks`, `chain`, `chord`: signatures to run after this task.
    public var embed: [String: JSONValue]

    public var id: String { headers["id"]?.stringValue ?? "" }
    public var task: String { headers["task"]?.stringValue ?? "" }

    /// What is wrong with a message that cannot be run.
    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a message from the bytes of its list entry.
    ///
    /// - Throws: ``Malformed`` naming the problem (not JSON, protocol 1, no `delivery_info`,
    ///   a body that is not base64 JSON `[list, object, object]` …).
    public init(envelope bytes: [UInt8]) throws {
        guard let envelope = try? JSONValue(parsingPython: bytes), case .object(let o) = envelope else {
            throw Malformed(description: "the kombu envelope is not a JSON object")
        }
        guard case .object(let headers)? = o["headers"], headers["task"]?.stringValue != nil else {
            throw Malformed(description: "no 'task' header: not a Celery protocol 2 message")
        }
        guard headers["id"]?.stringValue?.isEmpty == false else { throw Malformed(description: "no 'id' header") }
        guard case .object(let properties)? = o["properties"], properties["delivery_info"]?.objectValue != nil else {
            throw Malformed(description: "no properties.delivery_info")
        }
        if let type = o["content-type"]?.stringValue, type != "application/json" {
            throw Malformed(description: "content type \(type) is not supported: Kale reads JSON, Celery's default serializer")
        }
        guard case .string(let body)? = o["body"] else { throw Malformed(description: "no body") }
        let text: [UInt8]
        switch properties["body_encoding"]?.stringValue {
        case "base64":
            guard let data = Data(base64Encoded: body, options: .ignoreUnknownCharacters) else {
                throw Malformed(description: "the body is not valid base64")
            }
            text = Array(data)
        case nil, "utf-8": text = Array(body.utf8)
        case let other?: throw Malformed(description: "body encoding \(other) is not supported")
        }
        guard let parsed = try? JSONValue(parsingPython: text) else { throw Malformed(description: "the body is not JSON") }
        guard case .array(let parts) = parsed, parts.count == 3, case .array(let args) = parts[0],
              case .object(let kwargs) = parts[1] else {
            throw Malformed(description: "the body is not [args, kwargs, embed]")
        }
        self.headers = headers
        self.properties = properties
        self.args = args.map(CeleryTaggedJSON.untag)
        self.kwargs = kwargs.mapValues(CeleryTaggedJSON.untag)
        self.embed = parts[2].objectValue ?? [:]
    }

    /// The Kale envelope this message runs as. Its `args` hold the keyword arguments only;
    /// positional ones are mapped by ``CeleryRequest/arguments(names:)`` once the task's
    /// declared names are known. `celery` carries the request for results and callbacks.
    public func envelope(queue: String) -> Envelope {
        // `timelimit` is [hard, soft] in seconds (the code, not the docs, is right: CELERY.md P7).
        let limits = headers["timelimit"]?.arrayValue ?? []
        func ms(_ i: Int) -> Int64? {
            guard limits.count > i, let s = limits[i].doubleValue, s > 0, s < 1e9 else { return nil }
            return Int64((s * 1000).rounded())
        }
        let priority = properties["priority"]?.doubleValue.map { p -> Priority in p <= 2 ? .high : p <= 5 ? .normal : .low }
        var traceHeaders: [String: String] = [:]
        for name in ["traceparent", "tracestate"] { if let v = headers[name]?.stringValue { traceHeaders[name] = v } }
        var request: [String: JSONValue] = [
            "args": .array(args), "kwargs": .object(kwargs), "embed": .object(embed), "id": .string(id), "task": .string(task),
        ]
        // Only what CeleryRequest reads: the raw message stays in the record for everything else.
        for name in ["root_id", "retries"] {
            if let v = headers[name], v != .null { request[name] = v }
        }
        if let p = properties["priority"], p != .null { request["priority"] = p }
        var e = Envelope(id: id, name: task, queue: queue, args: .object(kwargs), enqueuedAt: 0,
                         softTimeLimitMs: ms(1), timeLimitMs: ms(0), priority: priority ?? .high, headers: traceHeaders)
        e.celery = .object(request)
        return e
    }
}
