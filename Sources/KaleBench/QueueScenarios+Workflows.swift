import Foundation
import Kale
import KaleRedis

extension QueueScenarios {
    /// What a workflow costs over plain tasks, on one worker daemon (process pool of 2):
    /// a chain of 1,000 no-op steps, per step, beside one task's enqueue → awaited result;
    /// and a chord of 10,000 no-ops with a no-op callback, in tasks per second, beside
    /// 10,000 independent no-ops enqueued in one batch and awaited.
    func workflows() async throws -> [Figure] {
        var chainStep: [Double] = [], roundTrip: [Double] = [], chord: [Double] = [], independent: [Double] = []
        let chordSize = 10_000
        for run in 1...runs {
            progress("workflows run \(run)/\(runs)")
            let prefix = freshPrefix()
            let c = client(prefix)
            let worker = try BenchWorker(url: url, prefix: prefix, concurrency: 2, prefetch: nil, pool: "process",
                                         arguments: ["--no-schedules"])
            try await worker.waitUntilReady(c)
            let options = EnqueueOptions(queue: "bench")
            // One task's round trip, the chain's reference.
            var trips: [Duration] = []
            for _ in 0..<200 {
                let t0 = ContinuousClock.now
                let ref = try await c.enqueue(name: "kale.noop", args: .null, options: options)
                _ = try await c.wait(for: ref.id, queue: "bench", timeout: .seconds(10))
                trips.append(ContinuousClock.now - t0)
            }
            roundTrip.append(Self.median(trips.map { $0.seconds * 1_000_000 }))
            let step = WorkflowNode.step(WorkflowStep(task: "kale.noop", options: options))
            var t0 = ContinuousClock.now
            let chain = try await c.submit(.chain(Array(repeating: step, count: 1000)))
            guard try await c.waitForWorkflow(chain.id, timeout: .seconds(300)).state == "succeeded" else { throw BenchError("the chain did not succeed") }
            chainStep.append((ContinuousClock.now - t0).seconds * 1_000_000 / 1000)

            t0 = ContinuousClock.now
            let wf = try await c.submit(.chord(group: Array(repeating: step, count: chordSize), then: step))
            guard try await c.waitForWorkflow(wf.id, timeout: .seconds(300)).state == "succeeded" else { throw BenchError("the chord did not succeed") }
            chord.append(Double(chordSize) / (ContinuousClock.now - t0).seconds)

            t0 = ContinuousClock.now
            let refs = try await c.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: chordSize), options: options)
            for ref in refs { _ = try await c.wait(for: ref.id, queue: "bench", timeout: .seconds(300)) }
            independent.append(Double(chordSize) / (ContinuousClock.now - t0).seconds)
            worker.stop()
            try await clean(prefix, c)
        }
        return [
            Figure(name: "workflow: a chain of 1,000 no-op steps, per step", unit: "µs", ours: chainStep,
                   reference: "one task, enqueue → awaited result", referenceRuns: roundTrip, target: nil),
            Figure(name: "workflow: a chord of 10,000 no-ops, end to end", unit: "tasks/s", ours: chord,
                   reference: "10,000 independent no-ops, batch + await", referenceRuns: independent, target: nil),
        ]
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s[s.count / 2]
    }
}
