import Foundation
import Kale
import KaleRedis
import Logging

extension Worker {
    /// One of `concurrency` loops that take leased tasks and run them.
    ///
    /// Recording an outcome in Redis happens beside the loop, not in it: the slot (a child
    /// process) takes its next task at once instead of idling for a round trip. The task
    /// keeps its place in ``HeldTasks`` (and its lease renewed) until the record is written.
    func runnerLoop() async {
        await withDiscardingTaskGroup { records in
            while let task = await jobs.pop() {
                guard let finish = await handle(task) else {
                    held.remove(task.id)
                    continue
                }
                records.addTask {
                    await finish()
                    self.held.remove(task.id)
                }
            }
        }
    }

    /// Runs a task; returns the work that records its outcome.
    private func handle(_ task: LeasedTask) async -> (@Sendable () async -> Void)? {
        var log = logger
        log[metadataKey: "task.id"] = "\(task.id)"
        log[metadataKey: "queue"] = "\(task.queue)"
        log[metadataKey: "attempt"] = "\(task.attempt)"

        let envelope: Envelope
        do { envelope = try kale.format.decode(task.message) }
        catch {
            let failure = TaskFailure.rejected(
                "malformed message (\(kale.format.name)): \(Self.describeDecoding(error))", type: "MalformedMessage")
            return { [log] in await self.reject(task, log, failure) }
        }
        log[metadataKey: "task.name"] = "\(envelope.name)"
        guard registry.handler(named: envelope.name) != nil else {
            let known = registry.names.joined(separator: ", ")
            let failure = TaskFailure.rejected(
                "unknown task '\(envelope.name)' (this worker runs: \(known.isEmpty ? "none" : known))", type: "UnknownTask")
            return { [log] in await self.reject(task, log, failure) }
        }
        if held.entry(task.id)?.cancelRequested == true {
            return { [log] in await self.finish(task, envelope, .failed(TaskContext.failure(for: .cancelled)), duration: .zero, log) }
        }
        held.update(task.id) { $0.running = true; $0.startedAt = Date(); $0.name = envelope.name }
        let job = Job(
            leased: task, envelope: envelope,
            softTimeLimit: envelope.softTimeLimitMs.map { .milliseconds($0) } ?? configuration.softTimeLimit,
            timeLimit: envelope.timeLimitMs.map { .milliseconds($0) } ?? configuration.timeLimit)
        let broker = self.broker
        let redis = self.redis
        let held = self.held
        let started = ContinuousClock.now
        let outcome = await executor.run(job) { fraction, message in
            held.update(task.id) { $0.progress = fraction }
            _ = try? await redis.send(broker.progressCommand(queue: task.queue, id: task.id, fraction: fraction, message: message))
        }
        let duration = ContinuousClock.now - started
        return { [log] in await self.finish(task, envelope, outcome, duration: duration, log) }
    }

    private func reject(_ task: LeasedTask, _ log: Logger, _ failure: TaskFailure) async {
        held.update(task.id) { $0.finishing = true }
        log.error("task rejected to the dead set", metadata: ["reason": "\(failure.message)"])
        metrics.finished(queue: task.queue, outcome: "rejected", duration: .zero)
        _ = await acknowledge(broker.failCommand(task, worker: id, failure: failure, retryAt: nil, cancelled: false, now: Broker.now()),
                              task: task, what: "rejection")
    }

    private func finish(_ task: LeasedTask, _ envelope: Envelope, _ outcome: Outcome, duration: Duration, _ log: Logger) async {
        held.update(task.id) { $0.finishing = true }
        let entry = held.entry(task.id)
        if entry?.abandoned == true {
            // Killed by a cold shutdown: not the task's fault, give it back uncounted.
            await requeue([task])
            return
        }
        // Formatted only if a line is logged: swift-log takes metadata as an autoclosure, and at
        // thousands of tasks a second String(format:) on every task is not free.
        let ms = { String(format: "%.1f", duration.seconds * 1000) }
        switch outcome {
        case .notStarted(let why):
            log.warning("task did not reach its runner; returning it to the queue", metadata: ["reason": "\(why)"])
            await requeue([task])
        case .succeeded(let bytes):
            let reply = await acknowledge(broker.succeedCommand(task, worker: id, result: bytes, now: Broker.now()), task: task, what: "result")
            if reply?.int == 0 {
                log.warning("lease was lost before the result was recorded; another run counts", metadata: ["duration.ms": "\(ms())"])
            } else {
                log.info("task succeeded", metadata: ["duration.ms": "\(ms())", "outcome": "succeeded"])
            }
            metrics.finished(queue: task.queue, outcome: "succeeded", duration: duration)
        case .failed(var failure):
            let cancelled = entry?.cancelRequested == true || failure.kind == .cancelled && !failure.retryable
            if cancelled { failure = TaskFailure(kind: .cancelled, type: "Cancelled", message: "cancelled while running: \(failure.message)", retryable: false) }
            let retryAt: Int64? = failure.retryable
                ? Broker.now() + envelope.backoff.delay(afterAttempt: task.attempt).milliseconds : nil
            let reply = await acknowledge(
                broker.failCommand(task, worker: id, failure: failure, retryAt: retryAt, cancelled: cancelled, now: Broker.now()),
                task: task, what: "failure")
            let result: String
            switch reply?.int {
            case 1: result = "retrying"
            case 2: result = "dead"
            case 3: result = "cancelled"
            default: result = "lease lost"
            }
            let level: Logger.Level = result == "dead" ? .error : .warning
            log.log(level: level, "task failed", metadata: [
                "duration.ms": "\(ms())", "outcome": "\(result)", "error.kind": "\(failure.kind)", "error": "\(failure.type): \(failure.message)"])
            metrics.finished(queue: task.queue, outcome: result, duration: duration)
        }
    }

    private static func describeDecoding(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        switch e {
        case .dataCorrupted(let c):
            return c.underlyingError.map { "not JSON (\($0.localizedDescription))" } ?? c.debugDescription
        case .keyNotFound(let k, _): return "missing field '\(k.stringValue)'"
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            return "bad field '\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
