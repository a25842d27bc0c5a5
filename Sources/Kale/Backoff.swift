import KaleRedis

/// How long to wait before retrying a failed task.
public enum Backoff: Sendable, Hashable, Codable {
    /// `base × 2^(attempt-1)`, capped at `max`; with `jitter`, a random point in the upper
    /// half of that, so a burst of failures does not retry in lockstep.
    case exponential(base: Duration, max: Duration, jitter: Bool)
    /// The same delay every time.
    case fixed(Duration)
    /// Retry at once.
    case none

    /// Exponential from 1 s up to 10 min, with jitter.
    public static let `default` = Backoff.exponential(base: .seconds(1), max: .seconds(600), jitter: true)

    /// The delay before the retry that follows failed attempt number `attempt` (1-based).
    public func delay(afterAttempt attempt: Int) -> Duration {
        switch self {
        case .none: return .zero
        case .fixed(let d): return d
        case .exponential(let base, let max, let jitter):
            let exponent = Swift.min(Swift.max(attempt - 1, 0), 30)
            let raw = base * (1 << exponent)
            let capped = raw > max ? max : raw
            return jitter ? capped * Double.random(in: 0.5...1.0) : capped
        }
    }

    private enum CodingKeys: String, CodingKey {
        case kind, baseMs = "base_ms", maxMs = "max_ms", jitter
    }

    public init(from decoder: any Decoder) throws {
        try self.init(json: JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .exponential(let base, let max, let jitter):
            try c.encode("exponential", forKey: .kind)
            try c.encode(base.milliseconds, forKey: .baseMs)
            try c.encode(max.milliseconds, forKey: .maxMs)
            try c.encode(jitter, forKey: .jitter)
        case .fixed(let d):
            try c.encode("fixed", forKey: .kind)
            try c.encode(d.milliseconds, forKey: .baseMs)
        case .none:
            try c.encode("none", forKey: .kind)
        }
    }
}

extension Backoff {
    /// As `encode(to:)` with sorted keys, for ``JSONWriter``.
    func write(to w: inout JSONWriter) {
        switch self {
        case .exponential(let base, let max, let jitter):
            w.raw("{")
            w.key("base_ms", first: true); w.integer(base.milliseconds)
            w.key("jitter"); w.bool(jitter)
            w.key("kind"); w.string("exponential")
            w.key("max_ms"); w.integer(max.milliseconds)
            w.raw("}")
        case .fixed(let d):
            w.raw("{")
            w.key("base_ms", first: true); w.integer(d.milliseconds)
            w.key("kind"); w.string("fixed")
            w.raw("}")
        case .none:
            w.raw(#"{"kind":"none"}"#)
        }
    }
}

extension Backoff {
    /// Reads `{"kind": …, "base_ms": …, "max_ms": …, "jitter": …}` from a parsed message;
    /// `init(from:)` goes through here too.
    init(json: JSONValue) throws {
        func fail(_ why: String) -> DecodingError { .dataCorrupted(.init(codingPath: [], debugDescription: "backoff: \(why)")) }
        func ms(_ key: String) throws -> Int64 {
            guard let n = json[key]?.int64 else { throw fail("'\(key)' must be an integer") }
            return n
        }
        guard case .string(let kind)? = json["kind"] else { throw fail("'kind' is missing") }
        switch kind {
        case "exponential":
            var jitter = true
            if let j = json["jitter"], j != .null {
                guard case .bool(let b) = j else { throw fail("'jitter' must be true or false") }
                jitter = b
            }
            self = .exponential(base: .milliseconds(try ms("base_ms")), max: .milliseconds(try ms("max_ms")), jitter: jitter)
        case "fixed": self = .fixed(.milliseconds(try ms("base_ms")))
        case "none": self = .none
        default: throw fail("unknown backoff kind '\(kind)'")
        }
    }
}
