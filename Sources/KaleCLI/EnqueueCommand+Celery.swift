import ArgumentParser
import Foundation
import Kale
import KaleCelery
import KaleRedis

/// `kale enqueue --celery`: a task in Celery's format, for Celery workers.
extension EnqueueCommand {
    func validateCelery() throws {
        if let priority, Int(priority).map({ (0...9).contains($0) }) != true {
            throw ValidationError("with --celery, --priority is a number from 0 (highest) to 9, not '\(priority)'")
        }
        if unique != nil || uniqueTTL != nil { throw ValidationError("--unique is a Kale option; Celery has no unique tasks") }
        if retries != nil { throw ValidationError("--retries is a Kale option; a Celery task's retries are its own (autoretry_for)") }
    }

    func runCelery(_ input: JSONValue) async throws {
        guard case .object(let kwargs) = input else {
            throw CLIFailure.usage("with --celery, --args must be a JSON object (the task's keyword arguments)",
                                   hint: #"example: --args '{"x": 2, "y": 3}'"#)
        }
        let client = try await global.client()
        let celery = CeleryClient(kale: client, configuration: CeleryConfiguration(
            brokerKeyPrefix: celeryPrefixes.broker, resultKeyPrefix: celeryPrefixes.result))
        var calls: [CeleryMessageWriter.Call] = []
        for n in 0..<count {
            var call = CeleryMessageWriter.Call(id: n == 0 ? id : nil, task: name, kwargs: kwargs, queue: queue ?? "celery",
                                                priority: priority.flatMap { Int($0) } ?? 0)
            if let delay { call.eta = Broker.now() + delay.duration.milliseconds }
            if let eta, let date = EnqueueCommand.parseDate(eta) { call.eta = Int64(date.timeIntervalSince1970 * 1000) }
            if let expires { call.expires = Broker.now() + expires.duration.milliseconds }
            if let timeLimit { call.hardTimeLimit = Double(timeLimit.duration.milliseconds) / 1000 }
            if let softTimeLimit { call.softTimeLimit = Double(softTimeLimit.duration.milliseconds) / 1000 }
            calls.append(call)
        }
        guard wait else {
            for call in calls {
                _ = try await celery.send(call)
                output.json ? Output.json(.object(["id": .string(call.id), "queue": .string(call.queue)])) : Output.line(call.id)
            }
            return
        }
        let limit = timeout?.duration ?? .seconds(365 * 86_400)
        let results = try await withThrowingTaskGroup(of: (Int, Result<CeleryResult, any Error>).self) { group in
            for (i, call) in calls.enumerated() {
                group.addTask {
                    do { return (i, .success(try await celery.send(call, wait: limit))) } catch { return (i, .failure(error)) }
                }
            }
            var out = [Result<CeleryResult, any Error>?](repeating: nil, count: calls.count)
            for try await (i, r) in group { out[i] = r }
            return out.compactMap { $0 }
        }
        var unsuccessful = 0, late = 0
        for (call, result) in zip(calls, results) {
            switch result {
            case .success(let r) where r.status == "SUCCESS":
                output.json ? Output.json(.object(["id": .string(call.id), "state": "SUCCESS", "result": r.result]))
                    : Output.line("\(call.id) SUCCESS \(r.result.jsonString)")
            case .success(let r):
                unsuccessful += 1
                let error = CeleryTaskError(r)
                output.json ? Output.json(.object(["id": .string(call.id), "state": .string(r.status), "error": r.result]))
                    : Output.line("\(call.id) \(r.status) \(Output.printable("\(error)", keepingNewlines: false))")
            case .failure(let e):
                unsuccessful += 1
                late += 1
                output.json ? Output.json(.object(["id": .string(call.id), "state": "TIMEOUT", "error": .string("\(e)")]))
                    : Output.line("\(call.id) TIMEOUT \(e)")
            }
        }
        if unsuccessful > 0 {
            throw CLIFailure(message: "\(unsuccessful) of \(calls.count) Celery task\(calls.count == 1 ? "" : "s") did not succeed",
                             hint: late > 0 ? "is a Celery worker (or a Kale worker with --celery-queues) serving queue '\(queue ?? "celery")'?"
                                 : "see the errors above",
                             exitCode: ExitCodes.failed)
        }
    }
}
