import Foundation
import Kale
import KaleRedis
import KaleSealing
import KaleTestSupport
import Testing

/// The documents a signing `kale worker` makes tasks from are signed too: a schedule
/// definition or a workflow tree written by hand, altered, copied from another schedule or
/// workflow, or signed with a key the worker does not hold makes no task; signed ones, with
/// the current key or an older one still held, do.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SignedDocumentTests {
    static let new = "new:" + Data(repeating: 0x11, count: 32).base64EncodedString()
    static let old = "old:" + Data(repeating: 0x22, count: 32).base64EncodedString()
    static let gone = "gone:" + Data(repeating: 0x33, count: 32).base64EncodedString()
    /// The worker signs with `new` and still verifies `old`.
    static let workerKeys = new + "," + old

    static func fixture(signing keys: String) -> KaleFixture {
        KaleFixture { $0.format = SealedFormat(keys: try! SigningKeys(parsing: keys)) }
    }

    /// A client of fixture `f`'s Redis and prefix that signs with `keys` (nil: does not sign).
    static func client(_ f: KaleFixture, signing keys: String?) -> KaleClient {
        var c = f.configuration
        c.format = keys.map { SealedFormat(keys: try! SigningKeys(parsing: $0)) } ?? KaleJSONFormat()
        return KaleClient(configuration: c)
    }

    @Test func onlySchedulesSignedAsThemselvesByAHeldKeyFire() async throws {
        let f = Self.fixture(signing: Self.new)
        let counter = f.keys.prefix + ":runs"
        func every(_ name: String) throws -> ScheduleDefinition {
            ScheduleDefinition(name: name, task: "kale.count", timing: try ScheduleTiming(every: "1s"),
                               args: .object(["key": .string(counter)]))
        }
        try await f.client.addSchedule(try every("signed"))
        try await Self.client(f, signing: Self.old).addSchedule(try every("rotated"))
        try await Self.client(f, signing: Self.gone).addSchedule(try every("retired"))
        try await Self.client(f, signing: nil).addSchedule(try every("unsigned"))
        // `signed`'s stored form, signature and all, under another name; and one altered in place.
        let stored = try #require(try await f.redis.send("HGET", f.keys.schedules, "signed").string)
        try await f.redis.send("HSET", f.keys.schedules, "copied", stored)
        try await f.client.addSchedule(try every("altered"))
        let altered = try #require(try await f.redis.send("HGET", f.keys.schedules, "altered").string)
        try await f.redis.send("HSET", f.keys.schedules, "altered", altered.replacingOccurrences(of: counter, with: counter + "x"))
        try await f.redis.send("INCR", f.keys.schedulesVersion)

        let worker = try WorkerDaemon(url: RedisServer.shared.url, prefix: f.keys.prefix, arguments: ["--diagnostics"],
                                      concurrency: 1, environment: ["KALE_SIGNING_KEYS": Self.workerKeys])
        try await worker.waitUntilReady(f)
        let deadline = ContinuousClock.now + .seconds(20)
        var fired: Set<String> = []
        while ContinuousClock.now < deadline {
            fired = Set(try await f.runCounts(counter).keys.compactMap { $0.split(separator: "@").first.map(String.init) })
            if fired.isSuperset(of: ["signed", "rotated"]) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // Two more ticks for the refused ones to show if they were going to fire.
        try await Task.sleep(for: .milliseconds(2200))
        fired = Set(try await f.runCounts(counter).keys.compactMap { $0.split(separator: "@").first.map(String.init) })
        #expect(fired == ["signed", "rotated"])
        #expect(try await f.runCounts(counter + "x").isEmpty)
        let log = worker.log
        for name in ["retired", "unsigned", "copied", "altered"] {
            #expect(log.contains("schedule refused") && log.contains("schedule=\(name)"), "no refusal logged for \(name)")
        }
        #expect(log.contains("which this worker does not hold"), "the retired key is named as not held")
        #expect(await worker.stop() == 0)
    }

    @Test func aWorkflowTreeSwappedOrCopiedMakesNoStepAndFailsTheWorkflow() async throws {
        let f = Self.fixture(signing: Self.new)
        let counter = f.keys.prefix + ":runs"
        let sleepFirst = WorkflowNode.chain([
            .step(WorkflowStep(task: "kale.sleep", args: .object(["ms": .number(1500)]))),
            .step(WorkflowStep(task: "kale.count", args: .object(["key": .string(counter)]))),
        ])
        let worker = try WorkerDaemon(url: RedisServer.shared.url, prefix: f.keys.prefix, arguments: ["--diagnostics"],
                                      concurrency: 2, environment: ["KALE_SIGNING_KEYS": Self.workerKeys])
        try await worker.waitUntilReady(f)

        // Signed with the current key, and with the older one the worker still holds: both run.
        let signed = try await f.client.submit(sleepFirst)
        let rotated = try await Self.client(f, signing: Self.old).submit(sleepFirst)
        // While their first steps sleep: one tree is replaced by an unsigned one that counts
        // elsewhere, another by the signed tree of a different workflow.
        let swapped = try await f.client.submit(sleepFirst)
        let copied = try await f.client.submit(sleepFirst)
        let forged = WorkflowNode.chain([
            .step(WorkflowStep(task: "kale.sleep", args: .object(["ms": .number(1500)]))),
            .step(WorkflowStep(task: "kale.count", args: .object(["key": .string(counter + "x")]))),
        ]).document.jsonString
        try await f.redis.send("HSET", f.keys.workflow(swapped.id), "doc", forged)
        let other = try #require(try await f.redis.send("HGET", f.keys.workflow(signed.id), "doc").string)
        try await f.redis.send("HSET", f.keys.workflow(copied.id), "doc", other)

        for ref in [signed, rotated] {
            let info = try await f.client.waitForWorkflow(ref.id, timeout: .seconds(20))
            #expect(info.state == "succeeded", "\(ref.id): \(info.state) \(String(describing: info.error))")
        }
        for ref in [swapped, copied] {
            let info = try await f.client.waitForWorkflow(ref.id, timeout: .seconds(20))
            #expect(info.state == "failed" && info.error?.type == "BadSignature", "\(ref.id): \(info.state) \(String(describing: info.error))")
        }
        #expect(try await f.runCounts(counter).count == 2, "the second steps of the two signed workflows, no other")
        #expect(try await f.runCounts(counter + "x").isEmpty, "the forged step never ran")
        #expect(await worker.stop() == 0)
    }
}
