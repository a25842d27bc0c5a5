import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct EnqueueOptionsTests {
    /// Zero reached the scripts as "never expire": refused for the task and for the client.
    @Test func resultTTLUnderOneMillisecondIsRefusedPerTaskAndClientWide() async throws {
        let f = KaleFixture()
        for ttl in [Duration.zero, .seconds(-5), .microseconds(500)] {
            let wide = KaleFixture { $0.resultTTL = ttl }
            for (client, options, source) in [(f.client, EnqueueOptions(resultTTL: ttl), "per task"), (wide.client, EnqueueOptions(), "client-wide")] {
                var codes: [KaleError.Code] = []
                do { _ = try await client.enqueue(name: "t.ttl", args: .null, options: options) }
                catch let e as KaleError { codes.append(e.code) }
                do { _ = try await client.enqueueBatch(name: "t.ttl", args: [.null, .null], options: options) }
                catch let e as KaleError { codes.append(e.code) }
                #expect(codes == [.invalidOptions, .invalidOptions], "resultTTL \(ttl) \(source)")
            }
            #expect(try await wide.redis.send("LLEN", wide.keys.pending("default", .normal)).int == 0, "nothing was queued")
        }
        #expect(try await f.redis.send("LLEN", f.keys.pending("default", .normal)).int == 0, "nothing was queued")
        let kept = try await f.client.enqueue(name: "t.ttl", args: .null, options: .init(resultTTL: .milliseconds(1)))
        #expect(try await f.client.status(of: kept.id, queue: "default")?.state == .pending)
        #expect(try await f.auditQueue("default", ids: [kept.id]).isEmpty)
    }

    /// The one rule for a task's declared defaults: they fill what the caller left unset.
    @Test func mergeFillsUnsetFieldsAndKeepsSetOnes() {
        let defaults = EnqueueOptions(queue: "images", priority: .high, maxRetries: 7, timeLimit: .seconds(5),
                                      resultTTL: .seconds(60), headers: ["tenant": "a", "trace": "t0"], id: "fixed")
        let filled = EnqueueOptions(headers: ["trace": "t1"]).merged(over: defaults)
        #expect(filled.queue == "images" && filled.priority == .high && filled.maxRetries == 7)
        #expect(filled.timeLimit == .seconds(5) && filled.resultTTL == .seconds(60))
        #expect(filled.headers == ["tenant": "a", "trace": "t1"], "headers merged, the caller's winning")
        #expect(filled.id == nil, "a default id would make every enqueue after the first a duplicate")
        let explicit = EnqueueOptions(queue: "other", maxRetries: 1).merged(over: defaults)
        #expect(explicit.queue == "other" && explicit.maxRetries == 1 && explicit.priority == .high)
    }

    /// A default `eta` overrode an explicit `delay` (eta wins over delay): when to run is one choice.
    @Test func explicitDelayOrETAReplacesBothDefaults() {
        let defaults = EnqueueOptions(delay: .seconds(30), eta: 1_900_000_000)
        let delayed = EnqueueOptions(delay: .seconds(1)).merged(over: defaults)
        #expect(delayed.delay == .seconds(1) && delayed.eta == nil)
        let at = EnqueueOptions(eta: 1_800_000_000).merged(over: defaults)
        #expect(at.eta == 1_800_000_000 && at.delay == nil)
        let unset = EnqueueOptions().merged(over: defaults)
        #expect(unset.delay == .seconds(30) && unset.eta == 1_900_000_000)
    }

    @Test func registryGivesTheRegisteredTasksDefaults() {
        let registry = TaskRegistry()
        registry.register(TaskHandler(name: "t.images", defaultOptions: EnqueueOptions(queue: "images", maxRetries: 7)) { _, _ in .null })
        #expect(registry.defaults(for: "t.images") == EnqueueOptions(queue: "images", maxRetries: 7))
        #expect(registry.defaults(for: "t.unknown") == nil)
    }
}
