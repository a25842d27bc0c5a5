import Foundation
import Kale
import KaleRedis

extension QueueScenarios {
    // MARK: Awaiting a batch

    /// A producer awaiting every task of a batch while a default worker (`--concurrency 2`,
    /// process pool, its own prefetch) drains it: the rate at which the waits end beside the
    /// drain rate of the same run. Once through the batch's end stream (what `kale enqueue
    /// --count N --wait` does), once with a wait per task, 500 at a time (what it did before).
    func awaitBatch() async throws -> [Figure] {
        var streamRates: [Double] = [], streamDrains: [Double] = [], perTaskRates: [Double] = [], perTaskDrains: [Double] = []
        var cliRates: [Double] = [], cliDrains: [Double] = []
        for run in 1...runs {
            progress("kale enqueue --count \(drain) --wait run \(run)/\(runs)")
            let (rate, drainRate) = try await enqueueAndWaitCommand()
            cliRates.append(rate)
            cliDrains.append(drainRate)
            for mode in ["stream", "per-task"] {
                progress("await a batch (\(mode)) run \(run)/\(runs)")
                let prefix = freshPrefix()
                let c = client(prefix)
                let group = KaleClient.newEndGroup()
                let options = EnqueueOptions(queue: "bench", endGroup: mode == "stream" ? group : nil)
                var refs: [KaleClient.TaskRef] = []
                for _ in 0..<(drain / 1000) {
                    refs += try await c.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 1000), options: options)
                }
                let worker = try BenchWorker(url: url, prefix: prefix, concurrency: 2, prefetch: nil, pool: "process")
                let ended: Int
                if mode == "stream" {
                    ended = try await c.waitAll(refs, endGroup: group, timeout: .seconds(600)).filter(\.succeeded).count
                } else {
                    ended = try await waitEach(refs, client: c, width: 500)
                }
                let waitEnd = Int64((Date().timeIntervalSince1970 * 1000).rounded())
                worker.stop()
                guard ended == refs.count else { throw BenchError("\(refs.count - ended) awaited tasks did not succeed") }
                let (firstStart, lastEnd) = try await runBounds(c, ids: refs.map(\.id))
                let drainRate = Double(refs.count) / (Double(lastEnd - firstStart) / 1000)
                let waitRate = Double(refs.count) / (Double(waitEnd - firstStart) / 1000)
                if mode == "stream" {
                    streamRates.append(waitRate)
                    streamDrains.append(drainRate)
                } else {
                    perTaskRates.append(waitRate)
                    perTaskDrains.append(drainRate)
                }
                try await clean(prefix, c)
            }
        }
        return [
            Figure(name: "await \(drain) kale.noop (waitAll, end stream) while a default worker drains", unit: "tasks/s",
                   ours: streamRates, reference: "drain rate, same run", referenceRuns: streamDrains, target: nil),
            Figure(name: "same, a wait per task, 500 at a time (the CLI before)", unit: "tasks/s",
                   ours: perTaskRates, reference: "drain rate, same run", referenceRuns: perTaskDrains, target: nil),
            Figure(name: "kale enqueue kale.noop --count \(drain) --wait, a default worker running", unit: "tasks/s",
                   ours: cliRates, reference: "drain rate, same run", referenceRuns: cliDrains, target: nil),
        ]
    }

    /// `kale enqueue --count N --wait` as a user runs it (this executable's CLI), against a
    /// default worker that is already up: tasks per second from the first start to the exit
    /// of the command, and the drain rate of the same tasks.
    private func enqueueAndWaitCommand() async throws -> (rate: Double, drain: Double) {
        let prefix = freshPrefix()
        let c = client(prefix)
        let worker = try BenchWorker(url: url, prefix: prefix, concurrency: 2, prefetch: nil, pool: "process")
        try await worker.waitUntilReady(c)
        let command = Process()
        command.executableURL = URL(fileURLWithPath: BenchWorker.executable)
        command.arguments = ["enqueue", "kale.noop", "--count", String(drain), "--wait", "--timeout", "600s", "--json",
                             "--queue", "bench", "--redis", url.connectionString, "--prefix", prefix]
        let output = Pipe()
        command.standardOutput = output
        command.standardError = FileHandle.nullDevice
        try command.run()
        let printed = try await onThread { output.fileHandleForReading.readDataToEndOfFile() }
        command.waitUntilExit()
        let exited = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        worker.stop()
        let ids = String(decoding: printed, as: UTF8.self).split(separator: "\n").compactMap { line -> String? in
            guard let object = try? JSONValue(parsing: Data(line.utf8)), object["state"]?.stringValue == "succeeded" else { return nil }
            return object["id"]?.stringValue
        }
        guard command.terminationStatus == 0, ids.count == drain else {
            throw BenchError("kale enqueue --wait exited \(command.terminationStatus) with \(ids.count) of \(drain) succeeded")
        }
        let (first, last) = try await runBounds(c, ids: ids)
        try await clean(prefix, c)
        return (Double(drain) / (Double(exited - first) / 1000), Double(drain) / (Double(last - first) / 1000))
    }

    /// The old `kale enqueue --wait`: a wait (subscribe, read, unsubscribe) per task, `width`
    /// at a time. Returns how many succeeded.
    private func waitEach(_ refs: [KaleClient.TaskRef], client c: KaleClient, width: Int) async throws -> Int {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            var next = 0
            var succeeded = 0
            func add() {
                let ref = refs[next]
                next += 1
                group.addTask { try await c.wait(for: ref.id, queue: ref.queue, timeout: .seconds(600)).state == .succeeded }
            }
            while next < min(width, refs.count) { add() }
            for try await ok in group {
                if ok { succeeded += 1 }
                if next < refs.count { add() }
            }
            return succeeded
        }
    }
}
