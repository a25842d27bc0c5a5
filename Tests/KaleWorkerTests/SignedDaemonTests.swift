import Foundation
import Kale
import KaleRedis
import KaleSealing
import KaleTestSupport
import Testing

/// `kale worker` with `KALE_SIGNING_KEYS` in its environment, its children in the process
/// pool: signed tasks run, encrypted ones too (the children get the plain arguments over
/// their pipe, Redis never does), and an unsigned one goes to the dead set.
@Suite(.serialized, .timeLimit(.minutes(2))) struct SignedDaemonTests {
    static let keys = "k2:" + Data(repeating: 0x5A, count: 32).base64EncodedString()

    @Test func aSigningWorkerRunsSignedAndEncryptedTasksInItsChildrenAndRefusesUnsignedOnes() async throws {
        let f = KaleFixture { $0.format = SealedFormat(keys: try! SigningKeys(parsing: Self.keys)) }
        let counter = f.keys.prefix + ":runs"
        let worker = try WorkerDaemon(url: RedisServer.shared.url, prefix: f.keys.prefix, concurrency: 2,
                                      environment: ["KALE_SIGNING_KEYS": Self.keys])
        try await worker.waitUntilReady(f)
        let args = JSONValue.object(["key": .string(counter)])
        let signed = try await f.client.enqueue(name: "kale.count", args: args)
        let secret = try await f.client.enqueue(name: "kale.count", args: args, options: EnqueueOptions(encrypted: true))
        var plain = f.configuration
        plain.format = KaleJSONFormat()
        let unsignedClient = KaleClient(configuration: plain)
        let unsigned = try await unsignedClient.enqueue(name: "kale.count", args: args)

        let ok = try await f.client.wait(for: signed.id, queue: "default", timeout: .seconds(20))
        let hidden = try await f.client.wait(for: secret.id, queue: "default", timeout: .seconds(20))
        let refused = try await f.client.wait(for: unsigned.id, queue: "default", timeout: .seconds(20))
        #expect(ok.state == .succeeded && ok.result == .number(1))
        #expect(hidden.state == .succeeded && hidden.result == .number(1), "the child ran the decrypted arguments")
        let raw = try await f.redis.send("HMGET", f.keys.task("default", secret.id), "msg", "result").strings ?? []
        #expect(raw.first.map { !$0.contains(counter) } == true, "the key name (the argument) is not in Redis in the clear")
        #expect(raw.last?.contains(EncryptedValue.marker) == true)
        #expect(refused.state == .dead && refused.error?.type == "BadSignature", "\(String(describing: refused.error))")
        #expect(Set(try await f.runCounts(counter).keys) == [signed.id, secret.id])
        #expect(await worker.stop() == 0)
    }
}
