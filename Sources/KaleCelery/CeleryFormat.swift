public import Kale

/// Reads both Kale's own messages and Celery's, which a worker that takes over Celery queues
/// finds side by side in its task records; writes Kale's.
///
/// A Celery envelope is told from a kale/1 message by its shape (a `headers` and a `body`
/// member, no `v`), so no record needs a field saying which it holds.
public struct CeleryBridgeFormat: MessageFormat {
    private let kale: any MessageFormat

    public init(kale: any MessageFormat = KaleJSONFormat()) { self.kale = kale }

    public var name: String { "\(kale.name)+celery/2" }

    /// Whether the wrapped format is Kale's own: then a non-Celery message is already what a
    /// pool child reads.
    public var wrapsKaleJSON: Bool { kale is KaleJSONFormat }

    public func decode(_ bytes: [UInt8]) throws -> Envelope {
        guard Self.looksLikeCelery(bytes) else { return try kale.decode(bytes) }
        return try CeleryMessage(envelope: bytes).envelope(queue: "")
    }

    public func encode(_ envelope: Envelope) throws -> [UInt8] { try kale.encode(envelope) }

    /// kombu writes `{"body": …` first (Python's dict order); kale/1 writes its keys sorted,
    /// `args` first. Anything else is parsed to look for the members.
    private static let celeryHead = Array("{\"body\"".utf8)
    private static let kaleHead = Array("{\"args\":".utf8)

    public static func looksLikeCelery(_ bytes: [UInt8]) -> Bool {
        if bytes.starts(with: celeryHead) { return true }
        if bytes.starts(with: kaleHead) { return false }
        guard case .object(let o)? = try? JSONValue(parsingPython: bytes) else { return false }
        return o["v"] == nil && o["headers"] != nil && o["body"] != nil
    }
}
