import Foundation
public import Kale

/// A broadcast of Celery's remote control (kombu's Mailbox on the `celery.pidbox` fanout).
public struct CeleryControlRequest: Sendable {
    public var method: String
    public var arguments: [String: JSONValue]
    /// Node names the request is for; nil: every worker.
    public var destination: [String]?
    public var ticket: String?
    /// The caller's reply routing key (its mailbox oid); nil for a request that wants no reply.
    public var replyKey: String?

    /// Reads a request from its kombu envelope; nil when it is not one.
    public init?(envelope bytes: [UInt8]) {
        guard case .object(let e)? = try? JSONValue(parsingPython: bytes), let body = e["body"]?.stringValue else { return nil }
        let text = e["properties"]?["body_encoding"] == "base64" ? Data(base64Encoded: body).map { Array($0) } : Array(body.utf8)
        guard let text, case .object(let m)? = try? JSONValue(parsingPython: text), let method = m["method"]?.stringValue else {
            return nil
        }
        self.method = method
        arguments = m["arguments"]?.objectValue ?? [:]
        destination = m["destination"]?.arrayValue?.compactMap(\.stringValue)
        ticket = m["ticket"]?.stringValue
        replyKey = m["reply_to"]?["routing_key"]?.stringValue
    }

    public func isFor(_ hostname: String) -> Bool { destination.map { $0.contains(hostname) } ?? true }

    /// The list a reply is pushed onto: the caller's reply queue, `<oid>.reply.celery.pidbox`.
    public func replyList(keys: CeleryKeys) -> String? { replyKey.map { keys.brokerPrefix + $0 + ".reply.celery.pidbox" } }

    /// The kombu envelope of a reply `{node: answer}`.
    public func reply(_ body: JSONValue, clock: Int) throws -> [UInt8] {
        try JSONValue.object([
            "body": .string(Data(try body.bytes()).base64EncodedString()), "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": .object(["ticket": ticket.map { .string($0) } ?? .null, "clock": .number(Double(clock))]),
            "properties": .object([
                "delivery_mode": 1, "priority": 0, "body_encoding": "base64", "delivery_tag": .string(UUID().uuidString.lowercased()),
                "delivery_info": .object(["exchange": "reply.celery.pidbox", "routing_key": .string(replyKey ?? "")]),
            ]),
        ]).bytes()
    }
}
