import Foundation
import Kale
import KaleRedis
import KaleTestSupport
@testable import KaleWorker
import Testing

/// The default prefetch, sized by run time (decision 0031).
@Suite(.timeLimit(.minutes(3))) struct AdaptivePrefetchTests {
    @Test func sizeFollowsTheMeanRunTime() {
        let start = ContinuousClock.now
        var p = AdaptivePrefetch(slots: 2, since: start)
        #expect(p.current == 2, "one per slot before any run has ended")
        func runs(_ length: Duration) { for _ in 0..<200 { p.record(runBegan: start, endedAt: start + length) } }
        runs(.microseconds(100))
        #expect(p.current == 2 * AdaptivePrefetch.perSlotCap, "10 ms of 100 µs runs is over the cap")
        runs(.milliseconds(2))
        #expect(p.current == 2 * 5, "10 ms of 2 ms runs: five per slot")
        runs(.seconds(2))
        #expect(p.current == 2, "long runs: one per slot, as fixed before")
        var fresh = AdaptivePrefetch(slots: 2, since: start)
        fresh.record(runBegan: start - .microseconds(100), endedAt: start)
        #expect(fresh.current == 2, "a run begun before the size's start (the burst that ended) does not count")
    }

    private func worker(_ f: KaleFixture, prefetch: Int?) -> (Worker, Task<Void, any Error>) {
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let config = WorkerConfiguration(concurrency: 2, pool: .inline, prefetch: prefetch, lease: .seconds(5),
                                         reaperInterval: .milliseconds(200), name: "ap")
        let worker = Worker(configuration: config, kale: f.configuration, registry: registry)
        return (worker, Task { try await worker.run() })
    }

    @Test func aWorkerLeasesFurtherAheadForShortTasksOnly() async throws {
        let f = KaleFixture()
        let (w, run) = worker(f, prefetch: nil)
        // 600 no-ops, then 60 tasks of 100 ms in the same batch (no idle moment between them).
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 600))
            + (try await f.client.enqueueBatch(name: "kale.sleep", args: Array(repeating: .object(["ms": 100]), count: 60)))
        var peak = 0
        #expect(try await waitUntil(timeout: .seconds(60)) {
            peak = max(peak, w.held.prefetch)
            return try await f.client.status(of: refs[600].id)?.state == .succeeded
        })
        #expect(peak > 2 && peak <= 2 * AdaptivePrefetch.perSlotCap, "prefetch during the no-ops: \(peak)")
        // Once 40 of the long tasks have run, the mean is theirs: one per slot again.
        let slow = Array(refs[600...])
        #expect(try await waitUntil(timeout: .seconds(60)) {
            var done = 0
            for ref in slow where try await f.client.status(of: ref.id)?.state == .succeeded { done += 1 }
            return done >= 40
        })
        #expect(w.held.prefetch == 2, "prefetch after 40 tasks of 100 ms: \(w.held.prefetch)")
        w.shutdown(.warm)
        try await run.value
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    /// A drain of short tasks must not make the worker lease a later burst of long ones all
    /// at once: an idle moment starts the size again from one per slot.
    @Test func aBurstAfterAnIdleMomentStartsFromOnePerSlot() async throws {
        let f = KaleFixture()
        let (w, run) = worker(f, prefetch: nil)
        let quick = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 600))
        #expect(try await waitUntil(timeout: .seconds(60)) { try await f.client.stats(of: "default").pendingTotal == 0 })
        try await Task.sleep(for: .milliseconds(300))
        let slow = try await f.client.enqueueBatch(name: "kale.sleep", args: Array(repeating: .object(["ms": 500]), count: 10))
        try await Task.sleep(for: .milliseconds(250))
        let leased = try await f.client.stats(of: "default").active
        #expect(leased <= 4, "two running and two prefetched at most: \(leased) leased")
        w.shutdown(.warm)
        try await run.value
        #expect(try await f.auditQueue("default", ids: (quick + slow).map(\.id)).isEmpty)
    }

    @Test func aPrefetchGivenStaysFixed() async throws {
        let f = KaleFixture()
        let (w, run) = worker(f, prefetch: 3)
        let quick = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 500))
        #expect(try await waitUntil(timeout: .seconds(60)) { try await f.client.status(of: quick.last!.id)?.state == .succeeded })
        #expect(w.held.prefetch == 3)
        w.shutdown(.warm)
        try await run.value
    }
}
