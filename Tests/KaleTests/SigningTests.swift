import Foundation
import Kale
import KaleRedis
import KaleSealing
import KaleTestSupport
import KaleWorker
import Testing

/// Signed and encrypted messages: a worker with keys runs only what verifies, and sends the
/// rest to the dead set with the reason, while valid tasks (signed with any configured key)
/// succeed beside them.
@Suite(.timeLimit(.minutes(2))) struct SigningTests {
    static let old = "old:" + Data(repeating: 7, count: 32).base64EncodedString()
    static let new = "new:" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let stranger = "old:" + Data(repeating: 9, count: 32).base64EncodedString()

    private func format(_ keys: String) throws -> SealedFormat { SealedFormat(keys: try SigningKeys(parsing: keys)) }

    private func envelope(_ id: String, n: Int) -> Envelope {
        Envelope(id: id, name: CountingTask.name, queue: "default", args: .object(["n": .number(Double(n))]), enqueuedAt: Broker.now())
    }

    /// A record and its pending entry written straight into Redis, bypassing the client.
    private func inject(_ f: KaleFixture, id: String, message: [UInt8]) -> [RedisCommand] {
        [RedisCommand("HSET", f.keys.task("default", id), "msg", message, "state", "pending", "prio", 1, "attempt", 0, "max_retries", 3),
         RedisCommand("LPUSH", f.keys.pending("default", .normal), id)]
    }

    @Test func aSignatureCoversEveryByteAndNamesItsKey() throws {
        let signer = try format(Self.new)
        let bytes = try signer.encode(envelope("t1", n: 1))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("\"}") && text.contains(#","sig":"new."#), "\(text)")
        // Still a JSON object any reader (a Lua script, a client without keys) parses.
        #expect(try KaleJSONFormat().decode(bytes).id == "t1")
        #expect(try signer.decode(bytes).args == .object(["n": 1]))
        // One byte changed anywhere before the signature: refused.
        var altered = bytes
        altered[text.utf8.count / 3] ^= 0x01
        #expect(throws: MessageRefused.self) { try signer.decode(altered) }
    }

    @Test func rotationVerifiesBothKeysAndARetiredKeyIsRefused() throws {
        let signedOld = try format(Self.old).encode(envelope("a", n: 1))
        let rotating = try format("\(Self.new),\(Self.old)")
        #expect(try rotating.decode(signedOld).id == "a", "the old key still verifies during rotation")
        #expect(try rotating.decode(rotating.encode(envelope("b", n: 2))).id == "b")
        #expect(String(decoding: try rotating.encode(envelope("c", n: 3)), as: UTF8.self).contains(#""sig":"new."#), "the first key signs")
        let retired = try format(Self.new)
        let error = #expect(throws: MessageRefused.self) { try retired.decode(signedOld) }
        #expect(error?.type == "BadSignature")
        #expect(error?.reason.contains("signed with key 'old'") == true, "\(String(describing: error))")
        // Another deployment's key of the same name: the code does not match.
        let foreign = #expect(throws: MessageRefused.self) { try format(Self.stranger).decode(signedOld) }
        #expect(foreign?.reason.contains("does not match") == true)
    }

    @Test func keysThatCannotBeUsedAreRefusedWithoutEchoingThem() {
        let short = Data(repeating: 1, count: 8).base64EncodedString()
        for (text, says) in [("k1", "not id:base64key"), ("k1:***", "not valid base64"), ("k1:\(short)", "8 bytes"),
                             ("bad id:\(short)", "key id 'bad id'"), ("\(Self.new),\(Self.new)", "appears twice"), ("", "not id:base64key")] {
            do {
                _ = try SigningKeys(parsing: text)
                Issue.record("'\(text)' was accepted")
            } catch {
                #expect("\(error)".contains(says), "\(error)")
                #expect(!"\(error)".contains(short))
            }
        }
    }

    @Test func aWorkerWithKeysRunsOnlyVerifiedMessagesAndDeadLettersTheRestWithTheReason() async throws {
        let f = KaleFixture { $0.format = SealedFormat(keys: try! SigningKeys(parsing: "\(Self.new),\(Self.old)")) }
        let counter = f.keys.prefix + ":runs"
        let plain = KaleJSONFormat()
        let signedElsewhere = try format(Self.new).encode(envelope("original", n: 9))
        var tampered = try format(Self.new).encode(envelope("tampered", n: 4))
        if let i = tampered.firstIndex(of: UInt8(ascii: "4")) { tampered[i] = UInt8(ascii: "5") }
        let garbage: [(id: String, message: [UInt8], says: String)] = [
            ("unsigned", try plain.encode(envelope("unsigned", n: 1)), "is not signed"),
            ("tampered", tampered, "does not match"),
            ("retired", try format("k0:" + Data(repeating: 3, count: 32).base64EncodedString()).encode(envelope("retired", n: 2)),
             "signed with key 'k0'"),
            ("copied", signedElsewhere, "signed for task 'original'"),
        ]
        var commands: [RedisCommand] = []
        for g in garbage { commands += inject(f, id: g.id, message: g.message) }
        for r in try await f.redis.pipeline(commands) { try r.throwingServerError() }
        _ = try await f.redis.send("SADD", f.keys.queues, "default")
        // Valid beside them: one signed with the new key (the client's), one with the old.
        let byClient = try await f.client.enqueue(name: CountingTask.name, args: .object(["n": 5]))
        for r in try await f.redis.pipeline(inject(f, id: "byOld", message: try format(Self.old).encode(envelope("byOld", n: 6)))) {
            try r.throwingServerError()
        }

        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: counter))
        let worker = f.startWorker(registry: registry)
        var infos: [String: TaskInfo] = [:]
        for id in garbage.map(\.id) + [byClient.id, "byOld"] { infos[id] = try await f.client.wait(for: id, queue: "default", timeout: .seconds(10)) }
        try await worker.stop()
        for g in garbage {
            let info = infos[g.id]
            #expect(info?.state == .dead, "\(g.id): \(String(describing: info?.state))")
            #expect(info?.error?.type == "BadSignature", "\(g.id): \(String(describing: info?.error))")
            #expect(info?.error?.message.contains(g.says) == true, "\(g.id): \(String(describing: info?.error?.message))")
        }
        #expect(infos[byClient.id]?.state == .succeeded)
        #expect(infos["byOld"]?.state == .succeeded, "a message signed with the old key runs during rotation")
        let runs = try await f.runCounts(counter)
        #expect(Set(runs.keys) == [byClient.id, "byOld"], "nothing unverified ran: \(runs)")
        #expect(try await f.auditQueue("default", ids: garbage.map(\.id) + [byClient.id, "byOld"]).isEmpty)
    }

    @Test func encryptedArgumentsAndResultsAreNeverPlainInRedis() async throws {
        let f = KaleFixture { $0.format = SealedFormat(keys: try! SigningKeys(parsing: Self.new)) }
        let counter = f.keys.prefix + ":runs"
        let ref = try await f.client.enqueue(name: CountingTask.name, args: .object(["n": 424242]), options: EnqueueOptions(encrypted: true))
        let stored = try await f.redis.send("HGET", f.keys.task("default", ref.id), "msg").string ?? ""
        #expect(!stored.contains("424242") && stored.contains(EncryptedValue.marker), "\(stored)")
        // A reader without keys sees that it is encrypted, not what it holds.
        let seen = try KaleJSONFormat().decode(Array(stored.utf8))
        #expect(EncryptedValue.placeholder(seen.args) == "encrypted (key new)")

        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: counter))
        let worker = f.startWorker(registry: registry)
        let info = try await f.client.wait(for: ref.id, queue: "default", timeout: .seconds(10))
        try await worker.stop()
        #expect(info.state == .succeeded)
        #expect(info.result == .number(848484), "the client with the key reads the result")
        let raw = try await f.redis.send("HGET", f.keys.task("default", ref.id), "result").string ?? ""
        #expect(!raw.contains("848484") && raw.contains(EncryptedValue.marker), "\(raw)")
        // A client without keys cannot ask for encryption at all.
        let plainClient = KaleClient(configuration: KaleFixture().configuration)
        await #expect(throws: KaleError.self) {
            _ = try await plainClient.enqueue(name: CountingTask.name, args: .object(["n": 1]), options: EnqueueOptions(encrypted: true))
        }
    }

    /// Encrypted arguments reaching a worker without keys: it refused at once, instead of
    /// handing the handler ciphertext and retrying for nothing.
    @Test func aWorkerWithoutKeysDeadLettersAnEncryptedTaskAtOnce() async throws {
        let keyed = KaleFixture { $0.format = SealedFormat(keys: try! SigningKeys(parsing: Self.new)) }
        let ref = try await keyed.client.enqueue(name: CountingTask.name, args: .object(["n": 3]),
                                                 options: EnqueueOptions(maxRetries: 5, encrypted: true))
        var plain = keyed.configuration
        plain.format = KaleJSONFormat()
        let f = KaleFixture(server: keyed.server) { $0 = plain }
        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: f.keys.prefix + ":runs"))
        let worker = f.startWorker(registry: registry)
        let info = try await f.client.wait(for: ref.id, queue: "default", timeout: .seconds(10))
        try await worker.stop()
        #expect(info.state == .dead && info.attempt <= 1, "\(info.state) after \(info.attempt) attempts")
        #expect(info.error?.type == "DecryptionFailed")
        #expect(info.error?.message.contains("encrypted (key new)") == true, "\(String(describing: info.error))")
    }

    /// A step's stored result is the next step's input as it is: an encrypted one would reach
    /// its successor as ciphertext, so a workflow with an encrypted step is refused at submit.
    @Test func aWorkflowWithAnEncryptedStepIsRefusedAtSubmit() async throws {
        let f = KaleFixture { $0.format = SealedFormat(keys: try! SigningKeys(parsing: Self.new)) }
        let flow = WorkflowNode.chain([.step(WorkflowStep(task: "a.plain")), .step(WorkflowStep(task: "b.secret"))])
        let error = await #expect(throws: KaleError.self) {
            _ = try await f.client.submit(flow, defaults: { $0 == "b.secret" ? EnqueueOptions(encrypted: true) : nil })
        }
        #expect(error?.code == .invalidOptions && error?.detail.contains("b.secret") == true, "\(String(describing: error))")
        #expect(try await f.redis.send("KEYS", f.keys.prefix + ":*").array?.isEmpty == true, "nothing was written")
    }
}
