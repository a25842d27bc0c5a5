import Foundation
import Kale
import KaleCelery
import KaleRedis
import Logging

extension Worker {
    /// What a runner does with a task it took.
    private enum Prepared {
        /// Run it.
        case run(LeasedTask, Envelope, Logger)
        /// Do not run it; this records why (a rejection, a cancel before it started).
        case record(LeasedTask, @Sendable () async -> Void)
        /// Nothing to do: the lease is already lost.
        case drop(LeasedTask)
    }

    /// Records the outcome of a run. Given the runner's next task (same queue), it counts that
    /// task's start in the same script call where it can (see ``Scripts/start``); a path that
    /// does not says so, and ``recordAndStart(_:_:)`` counts the start alone, in one place.
    typealias Recorder = @Sendable (LeasedTask?) async -> FoldedStart

    /// What recording an outcome did with the start of the runner's next task.
    enum FoldedStart {
        /// Counted in the same script call: the start's result (nil: the write failed).
        case folded(Int?)
        /// Not counted (the outcome took no script call, or another one).
        case notFolded
    }

    /// How the start of a run is counted.
    private enum StartMark {
        /// Not yet: the run sends its own start.
        case own
        /// Folded into the previous task's record, which the run need not wait for.
        case folded
        /// Folded into the previous task's record, whose write the run waits for (inline).
        case awaited(Task<Int?, Never>)
    }

    /// One of `concurrency` loops that take leased tasks and run them.
    ///
    /// Recording an outcome in Redis happens beside the loop, not in it: the slot (a child
    /// process) takes its next task at once instead of idling for a round trip. The task
    /// keeps its place in ``HeldTasks`` (and its lease renewed) until the record is written.
    /// When the next task is already waiting, its start is counted by the same script call
    /// that records this outcome, so a busy runner spends one call per task.
    func runnerLoop() async {
        await withDiscardingTaskGroup { records in
            var ready: Prepared?
            var folded = StartMark.own
            while true {
                let prepared: Prepared
                if let r = ready {
                    prepared = r
                    ready = nil
                } else if let task = await jobs.pop() {
                    prepared = prepare(task)
                } else {
                    break
                }
                let start = folded
                folded = .own
                switch prepared {
                case .drop(let task):
                    held.remove(task.key)
                case .record(let task, let work):
                    records.addTask {
                        await work()
                        self.held.remove(task.key)
                    }
                case .run(let task, let envelope, let log):
                    guard let record = await run(task, envelope, log, start: start) else {
                        held.remove(task.key)
                        continue
                    }
                    var next: LeasedTask?
                    if let following = jobs.tryPop() {
                        ready = prepare(following)
                        if case .run(let n, _, _)? = ready, n.queue == task.queue { next = n }
                    }
                    if let next, configuration.pool == .inline {
                        // Unstructured: the next run waits for its start (see markStarted), and
                        // the group keeps this task held until its record is written.
                        let written = Task { await self.recordAndStart(record, next) }
                        folded = .awaited(written)
                        records.addTask {
                            _ = await written.value
                            self.held.remove(task.key)
                        }
                    } else {
                        if next != nil { folded = .folded }
                        records.addTask {
                            _ = await self.recordAndStart(record, next)
                            self.held.remove(task.key)
                        }
                    }
                }
            }
        }
    }

    /// Decodes and checks a task before it runs.
    private func prepare(_ task: LeasedTask) -> Prepared {
        var log = logger
        log[metadataKey: "task.id"] = "\(task.id)"
        log[metadataKey: "queue"] = "\(task.queue)"
        log[metadataKey: "attempt"] = "\(task.attempt)"

        var envelope: Envelope
        do { envelope = try format.decode(task.message) }
        catch let refused as MessageRefused {
            return .record(task, { [log] in await self.reject(task, log, .rejected(refused.reason, type: refused.type)) })
        } catch {
            let failure = TaskFailure.rejected(
                "malformed message (\(format.name)): \(Self.describeDecoding(error))", type: "MalformedMessage")
            return .record(task, { [log] in await self.reject(task, log, failure) })
        }
        log[metadataKey: "task.name"] = "\(envelope.name)"
        if !format.encrypts, let sealed = EncryptedValue.placeholder(envelope.args) {
            // Running it would hand the handler ciphertext, fail and retry for nothing.
            let failure = TaskFailure.rejected(
                "the task's arguments are \(sealed), and this worker holds no keys (KALE_SIGNING_KEYS)", type: "DecryptionFailed")
            return .record(task, { [log] in await self.reject(task, log, failure) })
        }
        if format.verifiesSignatures, envelope.celery == nil, envelope.id != task.id {
            // A signed message copied into another record would run under a name it was not
            // signed for (and again, under a fresh id): the signature covers the id, so check it.
            let failure = TaskFailure.rejected(
                "the message is signed for task '\(envelope.id)' but was found in the record of '\(task.id)'", type: "BadSignature")
            return .record(task, { [log] in await self.reject(task, log, failure) })
        }
        guard let handler = registry.handler(named: envelope.name) else {
            let known = registry.names.joined(separator: ", ")
            let failure = TaskFailure.rejected(
                "unknown task '\(envelope.name)' (this worker runs: \(known.isEmpty ? "none" : known))", type: "UnknownTask")
            return .record(task, { [log] in await self.reject(task, log, failure) })
        }
        if envelope.celery != nil {
            do { try bridge(&envelope, task: task, handler: handler) }
            catch {
                let failure = error as? TaskFailure ?? .rejected("\(error)", type: "InvalidInput")
                return .record(task, { [log, envelope] in
                    await self.failChordBody(of: envelope, failure, log)
                    await self.reject(task, log, failure)
                })
            }
        }
        let entry = held.entry(task.key)
        if entry?.leaseLost == true {
            log.warning("lease lost while the task waited to run; not running it")
            return .drop(task)
        }
        if entry?.cancelRequested == true {
            let failure = TaskFailure(kind: .cancelled, type: "Cancelled", message: "cancelled before it started", retryable: false)
            return .record(task, { [log, envelope] in
                _ = self.held.beginFinishing(task.key)
                _ = await self.recordFailure(task, envelope, failure, startedAt: nil, cancelled: true, duration: .zero, log, next: nil)
            })
        }
        return .run(task, envelope, log)
    }

    /// Runs a task; returns the work that records its outcome (nil: nothing to record).
    private func run(_ task: LeasedTask, _ envelope: Envelope, _ log: Logger, start: StartMark) async -> Recorder? {
        guard held.beginRun(task.key, name: envelope.name) else {
            if held.entry(task.key)?.leaseLost == true {
                log.warning("lease lost while the task waited to run; not running it")
                return nil
            }
            // A cold shutdown began: the task never started, so it goes back uncounted.
            return { _ in
                await self.requeue([task])
                return .notFolded
            }
        }
        var verdict: StartVerdict
        switch start {
        case .own: verdict = await markStarted(task, log)
        case .folded: verdict = .run
        case .awaited(let write): verdict = Self.verdict(await write.value, log)
        }
        // A cancel that came while the task waited (prefetched, its start folded into another
        // task's record) stopped nothing: it must not start running now.
        if case .run = verdict, held.entry(task.key)?.cancelRequested == true { verdict = .cancelled }
        switch verdict {
        case .run: break
        case .leaseLost:
            held.update(task.key) { $0.running = false }
            return nil
        case .cancelled:
            held.update(task.key) { $0.running = false; $0.cancelRequested = true }
            let failure = TaskFailure(kind: .cancelled, type: "Cancelled", message: "cancelled before it started", retryable: false)
            return { next in
                let entry = self.held.beginFinishing(task.key)
                return .folded(await self.recordFailure(task, envelope, failure, startedAt: Self.ms(entry?.startedAt),
                                                        cancelled: true, duration: .zero, log, next: next))
            }
        }
        celeryTaskStarted(envelope, attempt: task.attempt)
        if task.attempt == 1 {
            let wait = Broker.now() - (task.readyAt ?? max(envelope.enqueuedAt, envelope.eta ?? 0))
            metrics.waited(queue: task.queue, wait: .milliseconds(max(wait, 0)))
        }
        let span = RunSpan.start(envelope, task, worker: id)
        let job = Job(
            leased: task, envelope: envelope,
            softTimeLimit: envelope.softTimeLimitMs.map { .milliseconds($0) } ?? configuration.softTimeLimit,
            timeLimit: envelope.timeLimitMs.map { .milliseconds($0) } ?? configuration.timeLimit,
            trace: span?.headersForRunner ?? [:])
        let started = ContinuousClock.now
        let outcome = await executor.run(job) { fraction, message in
            if self.held.setProgress(task.key, fraction, message) {
                // Unstructured: the reporting thread (a child's frame reader) must not wait
                // for Redis. One writer per run at a time, sending the latest value.
                Task { await self.writeProgress(task) }
            }
        }
        let duration = ContinuousClock.now - started
        held.update(task.key) { $0.running = false }
        return { next in await self.finish(task, envelope, outcome, duration: duration, log, next: next, span: span) }
    }

    /// Runs `record` and, unless it counted the start of `next` itself, counts that start alone.
    private func recordAndStart(_ record: Recorder, _ next: LeasedTask?) async -> Int? {
        switch await record(next) {
        case .folded(let start): return start
        case .notFolded:
            guard let next else { return nil }
            return await startAlone(next)
        }
    }

    /// Writes the latest progress of a run until none is left; refused by Redis (and so
    /// harmless) once the lease is lost.
    private func writeProgress(_ task: LeasedTask) async {
        while let next = held.takeProgress(task.key) {
            _ = try? await redis.send(broker.progressCommand(task, worker: id, fraction: next.fraction, message: next.message))
        }
    }

    /// A run's start as the worker saw it (ms since 1970); now when it is unknown.
    private static func ms(_ date: Date?) -> Int64 {
        date.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } ?? Broker.now()
    }

    private func reject(_ task: LeasedTask, _ log: Logger, _ failure: TaskFailure) async {
        held.update(task.key) { $0.finishing = true }
        log.error("task rejected to the dead set", metadata: ["reason": "\(failure.message)"])
        metrics.finished(queue: task.queue, name: held.entry(task.key)?.name ?? "", outcome: "rejected", duration: .zero)
        _ = await acknowledge(broker.failCommand(task, worker: id, failure: failure, retryAt: nil, cancelled: false,
                                                 startedAt: nil, now: Broker.now()),
                              task: task, what: "rejection", replicated: true)
    }

    private func finish(_ task: LeasedTask, _ envelope: Envelope, _ outcome: Outcome, duration: Duration, _ log: Logger,
                        next: LeasedTask?, span: RunSpan? = nil) async -> FoldedStart {
        let entry = held.beginFinishing(task.key)
        let startedAt = Self.ms(entry?.startedAt)
        if entry?.leaseLost == true, entry?.cancelRequested != true {
            let ended: String
            switch outcome {
            case .succeeded: ended = "succeeded"
            case .failed: ended = "failed"
            case .notStarted: ended = "not started"
            }
            log.warning("lease was lost while the task ran; its outcome is not recorded (another run counts)",
                        metadata: ["outcome": "\(ended)", "lease.lost": "1"])
            metrics.leaseLost(queue: task.queue)
            span?.end(outcome: "lease_lost")
            return .notFolded
        }
        // Formatted only if a line is logged: swift-log takes metadata as an autoclosure, and at
        // thousands of tasks a second String(format:) on every task is not free.
        let ms = { String(format: "%.1f", duration.seconds * 1000) }
        switch outcome {
        case .notStarted(let why):
            log.warning("task did not reach its runner; returning it to the queue", metadata: ["reason": "\(why)"])
            span?.end(outcome: "requeued")
            await requeue([task])
            return .notFolded
        case .succeeded(let bytes) where bytes.count > configuration.maxResultSize:
            let failure = HandlerRun.resultTooLarge(bytes.count, limit: configuration.maxResultSize)
            return .folded(await recordFailure(task, envelope, failure, startedAt: startedAt, cancelled: false, duration: duration, log,
                                               next: next, span: span))
        case .succeeded(let plain):
            let bytes: [UInt8]
            do { bytes = try format.seal(result: plain, of: envelope) }
            catch {
                let failure = TaskFailure.rejected("cannot encrypt the result: \(error)", type: "EncryptionFailed")
                return .folded(await recordFailure(task, envelope, failure, startedAt: startedAt, cancelled: false, duration: duration, log,
                                                   next: next, span: span))
            }
            let forward: [Broker.Forward]
            do { forward = try celerySuccessors(envelope, result: bytes) }
            catch {
                let failure = TaskFailure.rejected("cannot send the Celery callbacks of this task: \(error)", type: "InvalidCallback")
                return .folded(await recordFailure(task, envelope, failure, startedAt: startedAt, cancelled: false, duration: duration, log,
                                                   next: next, span: span))
            }
            // A workflow step's result becomes the next step's input: signed for this step by a
            // signing worker, so a result written by hand is not passed on (decision 0029).
            let signature = envelope.headers["kale-workflow"] == nil
                ? nil : (try? format.signature(of: bytes, context: KaleClient.stepResultContext(task.id))) ?? nil
            // Recorded even when a cold shutdown began meanwhile: the work is done, and giving
            // it back would run it twice.
            let reply = await acknowledge(
                broker.succeedCommand(task, worker: id, result: bytes, startedAt: startedAt, now: Broker.now(), thenStart: next,
                                      forward: forward, resultSignature: signature),
                task: task, what: "result", replicated: true)
            let (result, start) = reply.map(Broker.outcome(of:)) ?? (nil, nil)
            // 1 recorded; 0 the lease was lost; nil not recorded at all (acknowledge gave up:
            // the lease will expire and the task run again), so not a success either.
            let recorded = result == 1
            if result == 0 {
                log.warning("lease was lost before the result was recorded; another run counts",
                            metadata: ["duration.ms": "\(ms())", "outcome": "succeeded", "lease.lost": "1"])
            } else if recorded {
                log.info("task succeeded", metadata: ["duration.ms": "\(ms())", "outcome": "succeeded"])
            }
            if !recorded { metrics.leaseLost(queue: task.queue) }
            metrics.finished(queue: task.queue, name: envelope.name, outcome: recorded ? "succeeded" : "lease_lost", duration: duration)
            span?.end(outcome: recorded ? "succeeded" : "lease_lost")
            if result == 1 { celeryTaskEnded(envelope, result: bytes, failure: nil, retrying: false, duration: duration) }
            if result == 1 { workflowStepEnded(task, envelope) }
            return .folded(start)
        case .failed(let failure):
            if entry?.killedByShutdown == true, entry?.cancelRequested != true {
                // Killed by a cold shutdown: not the task's fault, give it back uncounted.
                span?.end(outcome: "requeued")
                await requeue([task])
                return .notFolded
            }
            var failure = failure
            let cancelled = entry?.cancelRequested == true || failure.kind == .cancelled && !failure.retryable
            if cancelled {
                failure = TaskFailure(kind: .cancelled, type: "Cancelled", message: "cancelled while running: \(failure.message)", retryable: false)
            }
            return .folded(await recordFailure(task, envelope, failure, startedAt: startedAt, cancelled: cancelled, duration: duration, log,
                                               next: next, span: span))
        }
    }

    /// Records a failed (or cancelled) run that began at `startedAt` (nil: it never started,
    /// no attempt is spent); returns the result of a folded start of `next`. The caller has
    /// marked the lease as finishing.
    private func recordFailure(_ task: LeasedTask, _ envelope: Envelope, _ failure: TaskFailure, startedAt: Int64?,
                               cancelled: Bool, duration: Duration, _ log: Logger, next: LeasedTask?, span: RunSpan? = nil) async -> Int? {
        let ms = { String(format: "%.1f", duration.seconds * 1000) }
        // The message's retries: a Kale record holds the same number, a bridged one the bound
        // within which the worker applies the task type's own (see bridge(_:task:handler:)).
        let retryAt: Int64? = failure.retryable && task.attempt <= envelope.maxRetries
            ? Broker.now() + envelope.backoff.delay(afterAttempt: task.attempt).milliseconds : nil
        // Sent only if the script finds the task out of retries (it has the last word on that).
        let forward = cancelled ? [] : celeryErrbacks(envelope, log)
        let reply = await acknowledge(
            broker.failCommand(task, worker: id, failure: failure, retryAt: retryAt, cancelled: cancelled,
                               startedAt: startedAt, now: Broker.now(), thenStart: next, forward: forward),
            task: task, what: "failure", replicated: true)
        let (code, start) = reply.map(Broker.outcome(of:)) ?? (nil, nil)
        let result: String
        switch code {
        case 1: result = "retrying"
        case 2: result = "dead"
        case 3: result = "cancelled"
        default: result = "lease_lost"
        }
        let level: Logger.Level = result == "dead" ? .error : .warning
        log.log(level: level, "task failed", metadata: [
            "duration.ms": "\(ms())", "outcome": "\(result)", "error.kind": "\(failure.kind)", "error": "\(failure.type): \(failure.message)"])
        if code == nil || code == 0 { metrics.leaseLost(queue: task.queue) }
        metrics.finished(queue: task.queue, name: envelope.name, outcome: result, duration: duration)
        span?.end(outcome: result, failure: failure, retryAt: code == 1 ? retryAt : nil)
        if code == 2 || code == 3 { workflowStepEnded(task, envelope) }
        if code == 1 || code == 2 || code == 3 {
            celeryTaskEnded(envelope, result: nil, failure: failure, retrying: code == 1, revoked: code == 3, duration: duration)
        }
        return start
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
