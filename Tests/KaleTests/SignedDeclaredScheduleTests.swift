import Foundation
import Kale
import KaleRedis
import KaleSealing
import KaleTestSupport
import KaleWorker
import Testing

/// Turning signing on where schedules are declared in code: the definitions an unsigned
/// worker published would never fire for a signing one (they do not verify), so the signing
/// worker publishes its own declarations again, signed.
@Suite(.timeLimit(.minutes(2))) struct SignedDeclaredScheduleTests {
    struct Tick: TaskDefinition {
        static let name = "test.tick"
        func run(_ input: Int, context: TaskContext) async throws -> Int { input }
    }

    @Test func aSigningWorkerSignsAgainTheSchedulesItsCodeDeclared() async throws {
        let keys = "k1:" + Data(repeating: 0x44, count: 32).base64EncodedString()
        let f = KaleFixture { $0.format = SealedFormat(keys: try! SigningKeys(parsing: keys)) }
        let registry = TaskRegistry()
        registry.register(Tick())
        registry.schedule("tick.every", Tick.self, input: 7, timing: try ScheduleTiming(every: "1s"))

        var unsigned = f.configuration
        unsigned.format = KaleJSONFormat()
        let before = f.startWorker(registry: registry, kale: unsigned)
        #expect(await waitUntil(timeout: .seconds(10)) { (try? await f.client.schedules().first?.fired) ?? 0 >= 1 })
        try await before.stop()
        let stored = try #require(try await f.redis.send("HGET", f.keys.schedules, "tick.every").string)
        #expect(!stored.contains(#""sig":"#), "published unsigned")

        let fired = try #require(try await f.client.schedules().first?.fired)
        let after = f.startWorker(registry: registry)
        #expect(await waitUntil(timeout: .seconds(10)) { (try? await f.client.schedules().first?.fired) ?? 0 > fired },
                "the signing worker fires the schedule its code declares")
        try await after.stop()
        #expect(try await f.client.verifiedSchedule(named: "tick.every") != nil, "stored again, signed")
    }
}
