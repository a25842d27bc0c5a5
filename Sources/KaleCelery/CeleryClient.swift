import Foundation
public import Kale
import KaleRedis
import Tracing

/// Sends tasks to Celery workers and awaits their results, as the Celery client does: the
/// message goes onto kombu's list for its queue and priority, and the result is read from
/// Celery's Redis backend, woken by its PUBLISH (no polling).
///
/// ```swift
/// let celery = CeleryClient(kale: client)
/// let call = try await celery.send("proj.tasks.add", args: [2, 3])
/// let sum = try await call.get(Int.self, timeout: .seconds(10))
/// ```
public struct CeleryClient: Sendable {
    public let kale: KaleClient
    public let configuration: CeleryConfiguration
    public let writer: CeleryMessageWriter

    public init(kale: KaleClient, configuration: CeleryConfiguration = CeleryConfiguration(), writer: CeleryMessageWriter = CeleryMessageWriter()) {
        self.kale = kale
        self.configuration = configuration
        self.writer = writer
    }

    /// A sent task: await its result with ``get(_:timeout:)``.
    public struct Sent: Sendable {
        public let id: String
        public let queue: String
        let client: CeleryClient

        /// The task's value once it succeeds.
        ///
        /// - Throws: ``CeleryTaskError`` when it failed or was revoked (with Python's
        ///   exception type and message), ``Kale/KaleError`` `.timeout`, `.encoding`.
        public func get<T: Decodable & Sendable>(_ type: T.Type, timeout: Duration = .seconds(60)) async throws -> T {
            try await client.result(of: id, timeout: timeout).value(as: T.self)
        }
    }

    /// Sends `call` (its queue, priority, eta …) to Celery.
    ///
    /// The binding kombu routes by is written first, then the message is pushed; when the
    /// caller will wait, ``send(_:wait:)`` subscribes to the result before the push.
    public func send(_ call: CeleryMessageWriter.Call) async throws -> Sent {
        var call = call
        // The Celery worker's OpenTelemetry instrumentation continues this trace.
        let span = TaskTracing.startEnqueue(name: call.task, queue: call.queue, count: 1, headers: &call.headers, system: "celery")
        defer { span?.end() }
        _ = try await kale.redis.pipeline(publishCommands(call))
        return Sent(id: call.id, queue: call.queue, client: self)
    }

    /// Sends task `task` with `args` and `kwargs` to `queue`.
    public func send(_ task: String, args: [JSONValue] = [], kwargs: [String: JSONValue] = [:], queue: String = "celery",
                     priority: Int = 0, countdown: Duration? = nil) async throws -> Sent {
        var call = CeleryMessageWriter.Call(task: task, args: args, kwargs: kwargs, queue: queue, priority: priority)
        if let countdown { call.eta = Broker.now() + countdown.milliseconds }
        return try await send(call)
    }

    /// Sends `call` and waits for its result, subscribed to the result's channel before the
    /// message is pushed (as Celery's client does), so even an instant result is heard.
    ///
    /// - Throws: ``Kale/KaleError`` `.timeout` when no final state arrived within `timeout`.
    public func send(_ call: CeleryMessageWriter.Call, wait timeout: Duration) async throws -> CeleryResult {
        var call = call
        let span = TaskTracing.startEnqueue(name: call.task, queue: call.queue, count: 1, headers: &call.headers, system: "celery")
        defer { span?.end() }
        return try await result(of: call.id, timeout: timeout, publishing: try publishCommands(call))
    }

    /// Waits for the final state of Celery task `id`: read once, then woken by the backend's
    /// PUBLISH on the result key.
    public func result(of id: String, timeout: Duration = .seconds(60)) async throws -> CeleryResult {
        try await result(of: id, timeout: timeout, publishing: [])
    }

    /// Subscribes to the result of `id`, sends `publishing` once the subscription is live, then
    /// reads the result and waits for its PUBLISH until it is final.
    private func result(of id: String, timeout: Duration, publishing commands: [RedisCommand]) async throws -> CeleryResult {
        let redis = kale.redis
        let key = configuration.keys.result(id)
        let result = try await kale.awaitChannel(key, timeout: timeout) { payload, first -> CeleryResult? in
            if first, !commands.isEmpty { _ = try await redis.pipeline(commands) }
            if let payload, let r = CeleryResult(json: payload), r.isReady { return r }
            guard let stored = try await redis.send("GET", key).bytes else { return nil }
            return CeleryResult(json: stored).flatMap { $0.isReady ? $0 : nil }
        }
        guard let result else { throw KaleError(.timeout, detail: "Celery task \(id) did not finish within \(timeout)", taskID: id) }
        return result
    }

    /// The queue's bindings, then the push onto its list.
    func publishCommands(_ call: CeleryMessageWriter.Call) throws -> [RedisCommand] {
        let keys = configuration.keys
        return keys.bindingCommands(call.queue)
            + [RedisCommand("LPUSH", keys.bucket(call.queue, priority: call.priority), try writer.envelope(call))]
    }
}
