/// One RESP2 reply, copied out of hiredis so it outlives the C reply object.
public enum RedisReply: Sendable, Hashable {
    /// A bulk string, binary safe.
    case bulk([UInt8])
    /// A simple status such as `OK` or `QUEUED`.
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    /// A nil bulk string or nil array.
    case null
    /// An error reply; the connection stays usable.
    case error(String)

    /// The reply as text, for bulk and status replies.
    public var string: String? {
        switch self {
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .status(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// The raw bytes of a bulk or status reply.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let b): return b
        case .status(let s): return Array(s.utf8)
        default: return nil
        }
    }

    /// The integer value, also parsed out of a numeric bulk string.
    public var int: Int? {
        switch self {
        case .integer(let i): return Int(i)
        case .bulk, .status: return string.flatMap { Int($0) }
        default: return nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// Throws the server's error for an `.error` reply, else returns the reply unchanged.
    ///
    /// - Throws: ``RedisError`` with code `.server` (or `.noScript`) and the server's text.
    @discardableResult
    public func throwingServerError() throws -> RedisReply {
        if case .error(let message) = self {
            throw RedisError(message.hasPrefix("NOSCRIPT") ? .noScript : .server, detail: message)
        }
        return self
    }

    /// A flat array of bulk strings as text, for replies like `HGETALL` or `LRANGE`.
    public var strings: [String]? {
        array?.map { $0.string ?? "" }
    }

    /// An `HGETALL` reply as a dictionary.
    public var hash: [String: String]? {
        guard let a = array, a.count % 2 == 0 else { return nil }
        var out: [String: String] = [:]
        out.reserveCapacity(a.count / 2)
        var i = 0
        while i < a.count {
            out[a[i].string ?? ""] = a[i + 1].string ?? ""
            i += 2
        }
        return out
    }
}
