import Foundation
public import Kale

/// Writes Celery protocol 2 messages exactly as the Celery 5 client does (`../shared/CELERY.md`
/// §1.5, §2.5), so an unmodified Celery worker with default settings accepts them.
public struct CeleryMessageWriter: Sendable {
    /// The node name in `origin`, e.g. `kale@host`.
    public var origin: String

    /// `origin` nil: `kale@<host name>`.
    public init(origin: String? = nil) { self.origin = origin ?? "kale@" + ProcessInfo.processInfo.hostName }

    /// One task message.
    public struct Call: Sendable {
        public var id: String
        public var task: String
        public var args: [JSONValue]
        public var kwargs: [String: JSONValue]
        public var queue: String
        /// 0-9; on Redis 0 is the highest.
        public var priority: Int
        /// Not before (ms since 1970).
        public var eta: Int64?
        /// Revoked if not started by (ms since 1970).
        public var expires: Int64?
        /// Seconds.
        public var hardTimeLimit: Double?
        public var softTimeLimit: Double?
        public var rootID: String?
        public var parentID: String?
        public var groupID: String?
        public var retries: Int
        public var ignoreResult: Bool
        /// `callbacks`, `errbacks`, `chain`, `chord` to carry on, as Celery signatures.
        public var embed: [String: JSONValue]
        /// Extra headers (e.g. `traceparent`).
        public var headers: [String: String]

        /// `id` nil: a new UUID.
        public init(id: String? = nil, task: String, args: [JSONValue] = [],
                    kwargs: [String: JSONValue] = [:], queue: String = "celery", priority: Int = 0, eta: Int64? = nil,
                    expires: Int64? = nil, hardTimeLimit: Double? = nil, softTimeLimit: Double? = nil, rootID: String? = nil,
                    parentID: String? = nil, groupID: String? = nil, retries: Int = 0, ignoreResult: Bool = false,
                    embed: [String: JSONValue] = [:], headers: [String: String] = [:]) {
            self.id = id ?? UUID().uuidString.lowercased()
            self.task = task
            self.args = args
            self.kwargs = kwargs
            self.queue = queue
            self.priority = priority
            self.eta = eta
            self.expires = expires
            self.hardTimeLimit = hardTimeLimit
            self.softTimeLimit = softTimeLimit
            self.rootID = rootID
            self.parentID = parentID
            self.groupID = groupID
            self.retries = retries
            self.ignoreResult = ignoreResult
            self.embed = embed
            self.headers = headers
        }
    }

    /// The list entry (kombu envelope) for `call`.
    ///
    /// - Throws: `EncodingError` for an argument that JSON cannot hold (NaN).
    public func envelope(_ call: Call) throws -> [UInt8] {
        var embed: [String: JSONValue] = ["callbacks": .null, "errbacks": .null, "chain": .null, "chord": .null]
        for (k, v) in call.embed { embed[k] = v }
        let body = try JSONValue.array([.array(call.args), .object(call.kwargs), .object(embed)]).bytes()
        func number(_ d: Double?) -> JSONValue { d.map { .number($0) } ?? .null }
        func string(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        var headers: [String: JSONValue] = [
            "lang": "swift", "task": .string(call.task), "id": .string(call.id), "shadow": .null,
            "eta": string(call.eta.map(Self.iso)), "expires": string(call.expires.map(Self.iso)),
            "group": string(call.groupID), "group_index": .null, "retries": .number(Double(call.retries)),
            "timelimit": .array([number(call.hardTimeLimit), number(call.softTimeLimit)]),
            "root_id": .string(call.rootID ?? call.id), "parent_id": string(call.parentID),
            "argsrepr": .string(Self.repr(call.args)), "kwargsrepr": .string(Self.repr(call.kwargs)),
            "origin": .string(origin), "ignore_result": .bool(call.ignoreResult), "replaced_task_nesting": 0,
            "stamped_headers": .null, "stamps": .object([:]),
        ]
        for (k, v) in call.headers { headers[k] = .string(v) }
        var properties: [String: JSONValue] = [
            "correlation_id": .string(call.id), "reply_to": .string(UUID().uuidString.lowercased()), "delivery_mode": 2,
            "delivery_info": .object(["exchange": "", "routing_key": .string(call.queue)]),
            "priority": .number(Double(min(max(call.priority, 0), 9))), "body_encoding": "base64",
            // Unique per publish: kombu keys its unacked hash by it (CELERY.md P2).
            "delivery_tag": .string(UUID().uuidString.lowercased()),
        ]
        if let expires = call.expires { properties["expiration"] = .string(String(max(expires - Broker.now(), 0))) }
        return try JSONValue.object([
            "body": .string(Data(body).base64EncodedString()), "content-encoding": "utf-8",
            "content-type": "application/json", "headers": .object(headers), "properties": .object(properties),
        ]).bytes()
    }

    /// Aware UTC ISO-8601 with microseconds, as Python's `isoformat()` writes it.
    public static func iso(_ ms: Int64) -> String {
        let seconds = Int(ms.floorDiv(1000))
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let micros = Int(ms - Int64(seconds) * 1000) * 1000
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", parts.tm_year + 1900, parts.tm_mon + 1,
                      parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, micros)
    }

    /// Milliseconds since 1970 of an ISO-8601 time as Python writes it (no zone: UTC, with or
    /// without a fraction); nil when unreadable.
    public static func ms(iso text: String) -> Int64? {
        var t = text
        if !(t.hasSuffix("Z") || t.range(of: #"[+-]\d\d:?\d\d$"#, options: .regularExpression) != nil) { t += "Z" }
        let plain = Date.ISO8601FormatStyle()
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        guard let date = (try? fractional.parse(t)) ?? (try? plain.parse(t)) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// Roughly Python's repr, for the `argsrepr` header that Celery shows in logs and Flower.
    public static func repr(_ args: [JSONValue]) -> String {
        "(" + args.map(\.jsonString).joined(separator: ", ") + (args.count == 1 ? ",)" : ")")
    }

    public static func repr(_ kwargs: [String: JSONValue]) -> String {
        "{" + kwargs.sorted { $0.key < $1.key }.map { "'\($0.key)': \($0.value.jsonString)" }.joined(separator: ", ") + "}"
    }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 { self >= 0 ? self / d : (self - d + 1) / d }
}
