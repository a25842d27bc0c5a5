import Kale
import KaleCelery
import Synchronization

extension Worker {
    /// worker-online, then worker-heartbeat every 2 s while the worker runs (Celery's rhythm;
    /// a monitor calls a worker offline after two missed beats). worker-offline is sent once
    /// the worker has stopped (``Worker/run()``).
    func celeryHeartbeatLoop() async {
        guard let events = celeryEvents else { return }
        await events.sendWorker("worker-online", active: held.runningCount, processed: celeryProcessed.load(ordering: .relaxed))
        while isRunning {
            await pause(.seconds(CeleryEventPublisher.heartbeatFrequency))
            guard isRunning else { break }
            await events.sendWorker("worker-heartbeat", active: held.runningCount, processed: celeryProcessed.load(ordering: .relaxed))
        }
    }

    /// task-received and task-started of a bridged task whose run begins. Sent beside the
    /// run, never in its way.
    func celeryTaskStarted(_ envelope: Envelope, attempt: Int) {
        guard let events = celeryEvents, let request = CeleryRequest(envelope) else { return }
        Task {
            await events.send("task-received", [
                "uuid": .string(request.id), "name": .string(request.task),
                "args": .string(CeleryMessageWriter.repr(request.args)), "kwargs": .string(CeleryMessageWriter.repr(request.kwargs)),
                "root_id": request.rootID.map { .string($0) } ?? .string(request.id), "parent_id": .null,
                "retries": .number(Double(max(attempt - 1, 0))), "eta": .null, "expires": .null,
            ])
            await events.send("task-started", ["uuid": .string(request.id)])
        }
    }

    /// task-succeeded, -retried, -failed or -revoked of a bridged task, once its outcome is recorded.
    func celeryTaskEnded(_ envelope: Envelope, result: [UInt8]?, failure: TaskFailure?, retrying: Bool, revoked: Bool = false,
                         duration: Duration) {
        guard let request = CeleryRequest(envelope) else { return }
        if !retrying { celeryProcessed.add(1, ordering: .relaxed) }
        guard let events = celeryEvents else { return }
        Task {
            if revoked {
                await events.send("task-revoked", ["uuid": .string(request.id), "terminated": true, "signum": .null, "expired": false])
            } else if let failure {
                // Celery's event carries repr(exc): a type and its args.
                let exception = "\(failure.type)(\(JSONValue.string(failure.message).jsonString))"
                await events.send(retrying ? "task-retried" : "task-failed", [
                    "uuid": .string(request.id), "exception": .string(exception), "traceback": .string(""),
                ])
            } else {
                await events.send("task-succeeded", [
                    "uuid": .string(request.id), "result": .string(String(decoding: result ?? [], as: UTF8.self)),
                    "runtime": .number(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18),
                ])
            }
        }
    }
}
