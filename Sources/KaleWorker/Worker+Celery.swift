import Kale
import KaleCelery
import KaleRedis
import Logging

extension Worker {
    /// Takes Celery messages of kombu queue `queue` over into Kale tasks, for as long as the
    /// worker runs (the Celery bridge; docs/celery.md, decision 0017).
    ///
    /// Idle, it blocks on kombu's default-priority list with `BLMOVE` into Kale's intake list,
    /// and the intake script, pipelined behind the block, turns what arrived (and whatever
    /// waits in the other priority lists) into tasks in one atomic step. A message is never
    /// held only in this process: it is in kombu's list, in Kale's intake list, or a task.
    func celeryIntakeLoop(_ queue: String) async {
        guard let celery = configuration.celery else { return }
        let keys = celery.keys
        let buckets = keys.buckets(queue)
        let intakeList = kale.keys.celeryIntake(queue, brokerPrefix: keys.brokerPrefix)
        let connection = redis.dedicatedConnection(name: "kale-celery-intake")
        defer { connection.close() }
        let block = celery.pollInterval
        var failures = 0
        var busy = true
        var announced = false
        while isRunning {
            do {
                if !announced { try await announceCeleryQueue(queue, keys: keys) }
                announced = true
                let intake = broker.celeryIntakeCommand(
                    queue: queue, buckets: buckets, intake: intakeList, resultKeyPrefix: keys.resultKeyPrefix,
                    resultExpires: celery.resultExpires, maxRetries: celery.recordRetries, limit: celery.intakeBatch,
                    now: busy ? Broker.now() : 0)
                let replies: [RedisReply]
                if busy {
                    replies = [try await connection.send(intake)]
                } else {
                    let move = RedisCommand.blocking(block, "BLMOVE", arguments: [
                        buckets[0].list, intakeList, "RIGHT", "LEFT", Double(block.milliseconds) / 1000])
                    replies = try await connection.pipeline([move, intake])
                }
                // Either may be refused (an ACL without BLMOVE, a key of the wrong type): back off.
                for case .error(let message) in replies { throw RedisError(.server, detail: message) }
                let counts = replies.last?.array?.compactMap(\.int) ?? []
                let taken = counts.first ?? 0
                if taken > 0 {
                    logger.debug("took Celery messages over", metadata: [
                        "queue": "\(queue)", "taken": "\(taken)", "scheduled": "\(counts.count > 1 ? counts[1] : 0)"])
                }
                busy = taken >= celery.intakeBatch
                failures = 0
            } catch {
                failures += 1
                if failures == 1 || failures % 50 == 0 {
                    logger.warning("cannot take Celery messages over; retrying", metadata: [
                        "queue": "\(queue)", "error": "\(error)", "failures": "\(failures)"])
                }
                busy = false
                try? await Task.sleep(for: .milliseconds(min(50 * failures, 1000)))
            }
        }
    }

    /// Writes the bindings kombu routes `queue` by (as a Celery worker declaring it would) and
    /// names the queue in Kale's registry of bridged queues, for `kale inspect`.
    private func announceCeleryQueue(_ queue: String, keys: CeleryKeys) async throws {
        let replies = try await redis.pipeline(keys.bindingCommands(queue) + [
            RedisCommand("SADD", kale.keys.celeryQueues, CeleryQueueStats.registryMember(queue: queue, keys: keys)),
        ])
        for case .error(let message) in replies { throw RedisError(.server, detail: message) }
    }
}

extension Worker {
    /// Makes a task taken over from Celery ready to run: its queue, its input (positional
    /// arguments named by the task type), and its task type's retry policy.
    ///
    /// - Throws: ``TaskFailure`` (not retried) for what cannot run: a chord header, positional
    ///   arguments the task does not name.
    func bridge(_ envelope: inout Envelope, task: LeasedTask, handler: TaskHandler) throws {
        guard let request = CeleryRequest(envelope) else { return }
        envelope.queue = task.queue
        if let why = request.unsupported { throw TaskFailure.rejected(why, type: "Unsupported") }
        envelope.args = try request.arguments(names: handler.argumentNames)
        // The task type's retries, within what the record allows (the bound the fail script and
        // the reaper apply): runs Celery spent before count, as in Celery.
        let celery = bridgeConfiguration
        envelope.maxRetries = min(handler.defaultOptions.maxRetries ?? celery.maxRetries, celery.recordRetries + request.retries)
        if let backoff = handler.defaultOptions.backoff { envelope.backoff = backoff }
        if envelope.timeLimitMs == nil { envelope.timeLimitMs = handler.defaultOptions.timeLimit?.milliseconds }
        if envelope.softTimeLimitMs == nil { envelope.softTimeLimitMs = handler.defaultOptions.softTimeLimit?.milliseconds }
    }

    /// The bridge's settings; a worker serving a bridged queue without them (started without
    /// `--celery-queues`) sends callbacks with Celery's defaults.
    var bridgeConfiguration: CeleryConfiguration { configuration.celery ?? CeleryConfiguration() }

    /// When a refused task is a chord's header, fails the chord's body too (`ChordError`), as a
    /// Celery worker does when a header fails: the chord's `get()` waits on the body's id.
    func failChordBody(of envelope: Envelope, _ failure: TaskFailure, _ log: Logger) async {
        guard let request = CeleryRequest(envelope), let body = request.chordBodyID else { return }
        let celery = bridgeConfiguration
        do {
            let json = try request.chordBodyFailure(failure.message)
            _ = try await redis.send(broker.celeryResultCommand(key: celery.keys.result(body), json: json, expires: celery.resultExpires))
        } catch {
            log.error("cannot fail the chord body of a refused header", metadata: ["chord.body": "\(body)", "error": "\(error)"])
        }
    }

    /// The Celery messages to send when a bridged task succeeds (its links, its chain's next step).
    func celerySuccessors(_ envelope: Envelope, result: [UInt8]) throws -> [Broker.Forward] {
        guard let request = CeleryRequest(envelope) else { return [] }
        guard request.embed.values.contains(where: { $0 != .null }) else { return [] }
        return try request.successors(of: JSONValue(parsing: result), configuration: bridgeConfiguration, writer: celeryWriter)
    }

    /// The Celery errbacks to send when a bridged task fails for good.
    func celeryErrbacks(_ envelope: Envelope, _ log: Logger) -> [Broker.Forward] {
        guard let request = CeleryRequest(envelope), request.embed["errbacks"]?.arrayValue?.isEmpty == false else { return [] }
        do { return try request.errbacks(configuration: bridgeConfiguration, writer: celeryWriter) }
        catch {
            log.error("cannot send the Celery errbacks of this task", metadata: ["error": "\(error)"])
            return []
        }
    }
}
