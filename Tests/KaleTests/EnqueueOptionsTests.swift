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
}
