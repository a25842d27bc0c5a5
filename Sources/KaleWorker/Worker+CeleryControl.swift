import Foundation
import Kale
import KaleCelery
import KaleRedis
import Logging

extension Worker {
    /// Answers Celery's remote-control broadcasts (`celery inspect ping|registered|active|stats|
    /// active_queues`, what Flower's worker pages ask), with `--celery-events`. Requests arrive
    /// on kombu's pidbox fanout channel; replies go to the caller's reply list, as kombu's
    /// Mailbox does (`../shared/CELERY.md` §4).
    func celeryControlLoop() async {
        guard let events = celeryEvents, let celery = configuration.celery else { return }
        let channel = celery.brokerKeyPrefix + "/\(kale.redis.url.database).celery.pidbox"
        let subscriber = RedisSubscriber(configuration: kale.redis, logger: logger) { [weak self] _, payload in
            guard let self else { return }
            Task { await self.answerControl(payload, events: events, celery: celery) }
        }
        defer { subscriber.shutdown() }
        do { try await subscriber.subscribe(channel) }
        catch {
            logger.warning("cannot listen to Celery's remote control", metadata: ["error": "\(error)"])
            return
        }
        while isRunning { await pause(.seconds(1)) }
    }

    /// A running task as Celery's `inspect active` describes one.
    private func activeEntry(_ entry: HeldTasks.Entry, hostname: String) -> JSONValue {
        var o: [String: JSONValue] = ["id": .string(entry.task.id), "name": .string(entry.name), "hostname": .string(hostname)]
        o["time_start"] = entry.startedAt.map { JSONValue.number($0.timeIntervalSince1970) } ?? .null
        o["acknowledged"] = .bool(true)
        o["delivery_info"] = .object(["routing_key": .string(entry.task.queue)])
        o["args"] = .array([])
        o["kwargs"] = .object([:])
        o["worker_pid"] = .null
        return .object(o)
    }

    private func answerControl(_ payload: [UInt8], events: CeleryEventPublisher, celery: CeleryConfiguration) async {
        guard let request = CeleryControlRequest(envelope: payload), request.isFor(events.hostname),
              let replyList = request.replyList(keys: celery.keys) else { return }
        let reply: JSONValue
        switch request.method {
        case "ping": reply = .object(["ok": "pong"])
        case "registered": reply = .array(registry.names.map { .string($0) })
        case "active": reply = .array(held.all.filter(\.running).map { activeEntry($0, hostname: events.hostname) })
        case "active_queues": reply = .array(celery.queues.map { q in
            .object(["name": .string(q), "exchange": .object(["name": .string(q), "type": "direct"]), "routing_key": .string(q)])
        })
        case "stats": reply = .object([
            "pid": .number(Double(getpid())), "uptime": .number(Date().timeIntervalSince(startedAt).rounded()),
            "pool": .object(["max-concurrency": .number(Double(configuration.concurrency)),
                             "implementation": .string("kale:\(configuration.pool.rawValue)")]),
            "prefetch_count": .number(Double(held.prefetch)),
            "total": .object([:]), "broker": .object(["transport": "redis"]),
        ])
        default: reply = .object(["error": .string("Kale workers do not implement '\(request.method)'")])
        }
        guard let message = try? request.reply(.object([events.hostname: reply]), clock: events.tick()) else { return }
        _ = try? await redis.send("LPUSH", replyList, message)
    }
}
