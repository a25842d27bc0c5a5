import Foundation
public import Kale
public import KaleRedis
import Synchronization

/// Celery's event protocol (`../shared/CELERY.md` §4), so `celery events`, Flower and
/// `app.events.State` see Kale workers and the Celery tasks they run: worker-online,
/// worker-heartbeat every 2 s, worker-offline, and task-received/-started/-succeeded/-failed.
///
/// Events are what Celery's are: best effort, published on the `celeryev` fanout channel with
/// no one obliged to listen. A failed publish is dropped, never retried or waited for.
public final class CeleryEventPublisher: Sendable {
    /// How often a worker says it is alive; Celery's monitors call it offline after 2 × this.
    public static let heartbeatFrequency: Double = 2.0

    private let redis: RedisClient
    private let channelPrefix: String
    /// The node name, e.g. `kale4242@host`: what Flower lists.
    public let hostname: String
    private let version: String
    /// Celery's Lamport clock, one tick per event sent.
    private let clock = Atomic<Int>(0)

    public init(redis: RedisClient, configuration: CeleryConfiguration, database: Int, hostname: String, version: String) {
        self.redis = redis
        // kombu's fanout channel `/<db>.<exchange>/<routing key>`, under its global_keyprefix.
        channelPrefix = configuration.brokerKeyPrefix + "/\(database).celeryev/"
        self.hostname = hostname
        self.version = version
    }

    /// Publishes event `type` (`worker-heartbeat`, `task-succeeded` …) with `fields`.
    public func send(_ type: String, _ fields: [String: JSONValue] = [:]) async {
        guard let (channel, message) = try? event(type, fields) else { return }
        _ = try? await redis.send("PUBLISH", channel, message)
    }

    /// The next tick of the Lamport clock (for control replies, which carry one too).
    public func tick() -> Int { clock.add(1, ordering: .relaxed).newValue }

    /// A worker event with the load figures Celery's heartbeat carries.
    public func sendWorker(_ type: String, active: Int, processed: Int) async {
        var load = [Double](repeating: 0, count: 3)
        _ = load.withUnsafeMutableBufferPointer { $0.baseAddress.map { getloadavg($0, 3) } }
        await send(type, [
            "freq": .number(Self.heartbeatFrequency), "active": .number(Double(active)), "processed": .number(Double(processed)),
            "loadavg": .array(load.map { .number(($0 * 100).rounded() / 100) }),
            "sw_ident": "kale", "sw_ver": .string(version), "sw_sys": "Linux",
        ])
    }

    /// The channel and the kombu envelope of one event.
    func event(_ type: String, _ fields: [String: JSONValue]) throws -> (String, [UInt8]) {
        let routingKey = type.replacingOccurrences(of: "-", with: ".")
        var body = fields
        body["type"] = .string(type)
        body["hostname"] = .string(hostname)
        body["timestamp"] = .number(Date().timeIntervalSince1970)
        body["utcoffset"] = .number(Double(-TimeZone.current.secondsFromGMT()) / 3600)
        body["pid"] = .number(Double(getpid()))
        body["clock"] = .number(Double(tick()))
        let envelope: JSONValue = .object([
            "body": .string(Data(try JSONValue.object(body).bytes()).base64EncodedString()),
            "content-encoding": "utf-8", "content-type": "application/json",
            "headers": .object(["hostname": .string(hostname)]),
            "properties": .object([
                "delivery_mode": 1, "delivery_info": .object(["exchange": "celeryev", "routing_key": .string(routingKey)]),
                "priority": 0, "body_encoding": "base64", "delivery_tag": .string(UUID().uuidString.lowercased()),
            ]),
        ])
        return (channelPrefix + routingKey, try envelope.bytes())
    }
}
