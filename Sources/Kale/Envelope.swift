import Foundation

/// One task as it travels through Redis: wire format version 1 (see `docs/wire-format.md`).
///
/// Times are integer milliseconds since 1970 (UTC). Optional fields are omitted when unset.
/// A reader accepts unknown fields (so a newer producer can add some) but refuses an unknown
/// ``version``: that task goes to the dead set rather than running with misread options.
public struct Envelope: Sendable, Hashable, Codable {
    /// The only version this build writes and runs.
    public static let currentVersion = 1

    public var version: Int
    public var id: String
    /// The registered task name, e.g. `images.thumbnail`.
    public var name: String
    public var queue: String
    /// The task's input as JSON.
    public var args: JSONValue
    public var enqueuedAt: Int64
    /// Not before this time.
    public var eta: Int64?
    /// Not started after this time.
    public var expiresAt: Int64?
    public var maxRetries: Int
    public var backoff: Backoff
    public var softTimeLimitMs: Int64?
    public var timeLimitMs: Int64?
    public var priority: Priority
    public var uniqueKey: String?
    public var resultTTLMs: Int64?
    public var headers: [String: String]
    /// The request as Celery sent it, for a task taken over from a Celery queue: its positional
    /// `args`, `kwargs`, `embed` (callbacks, errbacks, chain, chord) and headers. Read by the
    /// bridge (`KaleCelery`); not part of the kale/1 format, so never written by ``write(to:)``.
    public var celery: JSONValue?
    /// Whether ``args`` (and so the result) travel encrypted through Redis. Set by the
    /// producer (``EnqueueOptions/encrypted``) for the format to act on, and by a format that
    /// decrypted the message; never written as a field of its own (docs/security.md).
    public var encrypted = false

    public init(
        id: String, name: String, queue: String, args: JSONValue, enqueuedAt: Int64, eta: Int64? = nil,
        expiresAt: Int64? = nil, maxRetries: Int = 3, backoff: Backoff = .default, softTimeLimitMs: Int64? = nil,
        timeLimitMs: Int64? = nil, priority: Priority = .normal, uniqueKey: String? = nil,
        resultTTLMs: Int64? = nil, headers: [String: String] = [:]
    ) {
        version = Envelope.currentVersion
        self.id = id
        self.name = name
        self.queue = queue
        self.args = args
        self.enqueuedAt = enqueuedAt
        self.eta = eta
        self.expiresAt = expiresAt
        self.maxRetries = maxRetries
        self.backoff = backoff
        self.softTimeLimitMs = softTimeLimitMs
        self.timeLimitMs = timeLimitMs
        self.priority = priority
        self.uniqueKey = uniqueKey
        self.resultTTLMs = resultTTLMs
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey {
        case version = "v", id, name, queue, args
        case enqueuedAt = "enqueued_at", eta, expiresAt = "expires_at"
        case maxRetries = "max_retries", backoff
        case softTimeLimitMs = "soft_time_limit_ms", timeLimitMs = "time_limit_ms"
        case priority, uniqueKey = "unique_key", resultTTLMs = "result_ttl_ms", headers
    }

    /// Reads the envelope by the rules of ``init(json:)``, the one place they are written down
    /// (the message reader and any other `Decoder` must agree on defaults and refusals).
    public init(from decoder: any Decoder) throws {
        try self.init(json: JSONValue(from: decoder))
    }
}

/// Turns message bytes into an ``Envelope`` and back.
///
/// The single place where the wire format is read, so a second format (Celery's protocol 2)
/// can be added as another conformer without touching the broker or the worker.
public protocol MessageFormat: Sendable {
    /// A short name for logs and dead-letter reasons.
    var name: String { get }
    /// - Throws: an error whose description says what is wrong with the message; a
    ///   ``MessageRefused`` when the message must not run although it can be read (a bad
    ///   signature), whose ``MessageRefused/type`` becomes the dead task's error type.
    func decode(_ bytes: [UInt8]) throws -> Envelope
    func encode(_ envelope: Envelope) throws -> [UInt8]

    /// Whether a message is read only with a valid signature; the worker then also checks
    /// that a message names the record it was found in. Default false.
    var verifiesSignatures: Bool { get }
    /// Whether ``encode(_:)`` can encrypt an envelope's arguments. Default false.
    var encrypts: Bool { get }
    /// The result of a task as stored, from the result its handler returned: encrypted when
    /// the task's arguments were. Default: unchanged.
    func seal(result: [UInt8], of envelope: Envelope) throws -> [UInt8]
    /// A stored result as its reader wants it: decrypted when this format holds the key.
    /// Default: unchanged.
    func open(result: JSONValue, of id: String) throws -> JSONValue
    /// This format with `wrap` applied to the part that reads the task's own fields: a
    /// signing format keeps checking the bytes, and hands what it verified to `wrap(inner)`
    /// (the worker's Celery bridge). Default: `wrap(self)`.
    func bridging(_ wrap: (any MessageFormat) -> any MessageFormat) -> any MessageFormat

    /// A document that a worker will make tasks from (a schedule's definition, a workflow's
    /// tree), as stored: signed for `context` (what it is and whose: `schedule:<name>`) when
    /// this format signs messages. Default: unchanged.
    func sign(document: [UInt8], context: String) throws -> [UInt8]
    /// A stored document as a worker may make tasks from it, its signature removed.
    /// Default: with any signature removed, unchecked.
    /// - Throws: ``MessageRefused`` (`BadSignature`) when this format verifies signatures and
    ///   the document is unsigned, altered, signed for another context or with a key it lacks.
    func verify(document: [UInt8], context: String) throws -> [UInt8]
    /// A detached signature of `value` for `context` (a workflow step's result, which a worker
    /// passes on as the next step's input, and which may be any JSON value), or nil when this
    /// format does not sign. Default: nil.
    func signature(of value: [UInt8], context: String) throws -> String?
    /// Checks `signature` of `value` for `context`. Default: nothing.
    /// - Throws: ``MessageRefused`` (`BadSignature`) when this format verifies signatures and
    ///   the signature is missing or does not verify.
    func verify(value: [UInt8], signature: String?, context: String) throws
}

extension MessageFormat {
    public var verifiesSignatures: Bool { false }
    public var encrypts: Bool { false }
    public func seal(result: [UInt8], of envelope: Envelope) throws -> [UInt8] { result }
    public func open(result: JSONValue, of id: String) throws -> JSONValue { result }
    public func bridging(_ wrap: (any MessageFormat) -> any MessageFormat) -> any MessageFormat { wrap(self) }
    public func sign(document: [UInt8], context: String) throws -> [UInt8] { document }
    public func verify(document: [UInt8], context: String) throws -> [UInt8] { SignatureMember.stripped(document) }
    public func signature(of value: [UInt8], context: String) throws -> String? { nil }
    public func verify(value: [UInt8], signature: String?, context: String) throws {}
}

/// A message that can be read but must not run: unsigned where signatures are required, a
/// signature that does not match, a key that was retired, arguments that do not decrypt.
/// The worker dead-letters the task with ``type`` (`BadSignature` …) and ``reason``.
public struct MessageRefused: Error, Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var reason: String

    public init(type: String, reason: String) {
        self.type = type
        self.reason = reason
    }

    public var description: String { "\(type): \(reason)" }
}

/// Kale's own JSON format, version 1.
public struct KaleJSONFormat: MessageFormat {
    public init() {}
    public var name: String { "kale/1" }

    public func decode(_ bytes: [UInt8]) throws -> Envelope {
        try Envelope(json: JSONReader.parse(bytes))
    }

    public func encode(_ envelope: Envelope) throws -> [UInt8] {
        var w = JSONWriter(capacity: 320)
        try envelope.write(to: &w)
        return w.bytes
    }
}

extension Envelope {
    /// The members in sorted key order, optional ones left out when unset: the same bytes the
    /// synthesized `Encodable` conformance gives with `.sortedKeys`, without its cost.
    func write(to w: inout JSONWriter) throws {
        w.raw("{")
        w.key("args", first: true); try w.value(args)
        w.key("backoff"); backoff.write(to: &w)
        w.key("enqueued_at"); w.integer(enqueuedAt)
        if let eta { w.key("eta"); w.integer(eta) }
        if let expiresAt { w.key("expires_at"); w.integer(expiresAt) }
        w.key("headers")
        w.object(headers.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) { w, v in w.string(v) }
        w.key("id"); w.string(id)
        w.key("max_retries"); w.integer(Int64(maxRetries))
        w.key("name"); w.string(name)
        w.key("priority"); w.string(priority.rawValue)
        w.key("queue"); w.string(queue)
        if let resultTTLMs { w.key("result_ttl_ms"); w.integer(resultTTLMs) }
        if let softTimeLimitMs { w.key("soft_time_limit_ms"); w.integer(softTimeLimitMs) }
        if let timeLimitMs { w.key("time_limit_ms"); w.integer(timeLimitMs) }
        if let uniqueKey { w.key("unique_key"); w.string(uniqueKey) }
        w.key("v"); w.integer(Int64(version))
        w.raw("}")
    }
}

extension Envelope {
    /// Reads a parsed message: required fields, defaults for the optional ones, and
    /// `DecodingError`s for wrong types and an unsupported ``version``.
    init(json: JSONValue) throws {
        guard case .object(let o) = json else {
            throw DecodingError.typeMismatch([String: JSONValue].self, .init(codingPath: [], debugDescription: "a message must be a JSON object"))
        }
        func present(_ key: CodingKeys) -> JSONValue? {
            guard let v = o[key.stringValue], v != .null else { return nil }
            return v
        }
        func mismatch(_ key: CodingKeys, _ type: Any.Type) -> DecodingError {
            .typeMismatch(type, .init(codingPath: [key], debugDescription: "expected \(type) for '\(key.stringValue)'"))
        }
        func required<T>(_ key: CodingKeys, _ read: (CodingKeys) throws -> T?) throws -> T {
            guard let v = try read(key) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: [], debugDescription: "missing field '\(key.stringValue)'"))
            }
            return v
        }
        func string(_ key: CodingKeys) throws -> String? {
            guard let v = present(key) else { return nil }
            guard case .string(let s) = v else { throw mismatch(key, String.self) }
            return s
        }
        func integer(_ key: CodingKeys) throws -> Int64? {
            guard let v = present(key) else { return nil }
            guard let n = v.int64 else { throw mismatch(key, Int64.self) }
            return n
        }
        version = Int(try required(.version, integer))
        guard version == Envelope.currentVersion else {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.version], debugDescription: "unsupported wire format version \(version) (this worker reads 1)"))
        }
        id = try required(.id, string)
        name = try required(.name, string)
        queue = try required(.queue, string)
        args = o[CodingKeys.args.stringValue] ?? .null
        enqueuedAt = try required(.enqueuedAt, integer)
        eta = try integer(.eta)
        expiresAt = try integer(.expiresAt)
        maxRetries = Int(try integer(.maxRetries) ?? 3)
        backoff = try present(.backoff).map { try Backoff(json: $0) } ?? .default
        softTimeLimitMs = try integer(.softTimeLimitMs)
        timeLimitMs = try integer(.timeLimitMs)
        if let p = try string(.priority) {
            guard let priority = Priority(rawValue: p) else {
                throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.priority], debugDescription: "unknown priority '\(p)'"))
            }
            self.priority = priority
        } else {
            priority = .normal
        }
        uniqueKey = try string(.uniqueKey)
        resultTTLMs = try integer(.resultTTLMs)
        headers = [:]
        if let h = present(.headers) {
            guard case .object(let members) = h else { throw mismatch(.headers, [String: String].self) }
            for (k, v) in members {
                guard case .string(let s) = v else { throw mismatch(.headers, [String: String].self) }
                headers[k] = s
            }
        }
    }
}