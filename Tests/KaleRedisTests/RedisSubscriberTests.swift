import Glibc
import KaleRedis
import KaleTestSupport
import Synchronization
import Testing

/// Collects what a subscriber delivers, for tests to wait on.
private final class Inbox: Sendable {
    private let messages = Mutex<[(channel: String, payload: [UInt8])]>([])
    private let resubscribes = Atomic<Int>(0)

    func receive(_ channel: String, _ payload: [UInt8]) { messages.withLock { $0.append((channel, payload)) } }
    func resubscribed() { resubscribes.add(1, ordering: .relaxed) }

    var count: Int { messages.withLock { $0.count } }
    var resubscribeCount: Int { resubscribes.load(ordering: .relaxed) }
    func payloads(on channel: String) -> [String] {
        messages.withLock { $0.filter { $0.channel == channel }.map { String(decoding: $0.payload, as: UTF8.self) } }
    }
    var channels: Set<String> { messages.withLock { Set($0.map(\.channel)) } }
    var all: [(channel: String, payload: [UInt8])] { messages.withLock { $0 } }

    func subscriber(_ configuration: RedisConfiguration) -> RedisSubscriber {
        RedisSubscriber(configuration: configuration, onResubscribe: { self.resubscribed() }) { self.receive($0, $1) }
    }
}

@Suite struct RedisSubscriberTests {
    let shared = RedisServer.shared

    @Test func subscribeReturnsOnlyOnceServerConfirmed() async throws {
        let ns = testNamespace()
        let inbox = Inbox()
        let subscriber = inbox.subscriber(shared.configuration())
        defer { subscriber.shutdown() }
        let client = RedisClient(configuration: shared.configuration(poolSize: 1))
        defer { client.close() }
        // PUBLISH answers with the number of receivers: 1 proves the subscription was active
        // the moment subscribe() returned, with no wait in between.
        for i in 0..<20 {
            try await subscriber.subscribe("\(ns):\(i)")
            #expect(try await client.send("PUBLISH", "\(ns):\(i)", "hello-\(i)").int == 1, "channel \(i)")
        }
        #expect(await waitUntil { inbox.count == 20 })
        #expect(inbox.payloads(on: "\(ns):7") == ["hello-7"])
    }

    @Test func binaryPayloadArrivesIntact() async throws {
        let channel = testNamespace()
        let inbox = Inbox()
        let subscriber = inbox.subscriber(shared.configuration())
        defer { subscriber.shutdown() }
        let client = RedisClient(configuration: shared.configuration(poolSize: 1))
        defer { client.close() }
        try await subscriber.subscribe(channel)
        let payload: [UInt8] = [0, 0xFF, 0, 13, 10, 0]
        #expect(try await client.send("PUBLISH", channel, payload).int == 1)
        #expect(await waitUntil { inbox.count == 1 })
        #expect(inbox.all.first?.payload == payload)
    }

    @Test func lastUnsubscribeOfSharedChannelUnsubscribes() async throws {
        let channel = testNamespace()
        let inbox = Inbox()
        let subscriber = inbox.subscriber(shared.configuration())
        defer { subscriber.shutdown() }
        let client = RedisClient(configuration: shared.configuration(poolSize: 1))
        defer { client.close() }
        func receivers() async throws -> Int? {
            try await client.send("PUBSUB", "NUMSUB", channel).array?.last?.int
        }

        try await subscriber.subscribe(channel)
        try await subscriber.subscribe(channel)
        #expect(try await receivers() == 1, "two listeners share one server subscription")

        subscriber.unsubscribe(channel)
        // Still one reference: the subscription stays and messages still arrive.
        #expect(try await client.send("PUBLISH", channel, "after first unsubscribe").int == 1)
        #expect(await waitUntil { inbox.count == 1 })
        #expect(try await receivers() == 1)

        subscriber.unsubscribe(channel)
        #expect(try await waitUntil { try await receivers() == 0 })
        #expect(try await client.send("PUBLISH", channel, "nobody listens").int == 0)

        // Subscribing again after the last unsubscribe works like the first time.
        try await subscriber.subscribe(channel)
        #expect(try await client.send("PUBLISH", channel, "back").int == 1)
        #expect(await waitUntil { inbox.payloads(on: channel) == ["after first unsubscribe", "back"] })
    }

    @Test func twoThousandChannelsOnOneSubscriber() async throws {
        let ns = testNamespace()
        let channels = (0..<2000).map { "\(ns):\($0)" }
        let inbox = Inbox()
        let subscriber = inbox.subscriber(shared.configuration())
        defer { subscriber.shutdown() }
        let client = RedisClient(configuration: shared.configuration(poolSize: 1))
        defer { client.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for channel in channels { group.addTask { try await subscriber.subscribe(channel) } }
            try await group.waitForAll()
        }
        let receivers = try await client.pipeline(channels.map { RedisCommand("PUBLISH", $0, "m") })
        #expect(receivers.allSatisfy { $0 == .integer(1) }, "\(receivers.filter { $0 != .integer(1) }.count) channels not subscribed")
        #expect(await waitUntil { inbox.count >= 2000 })
        #expect(inbox.count == 2000)
        #expect(inbox.channels == Set(channels))
        // One connection carries them all.
        let numsub = try await client.send(RedisCommand("PUBSUB", arguments: ["NUMSUB"] + channels.prefix(3))).array
        #expect(numsub == [.bulk(Array(channels[0].utf8)), .integer(1), .bulk(Array(channels[1].utf8)), .integer(1),
                           .bulk(Array(channels[2].utf8)), .integer(1)])
    }

    @Test(.timeLimit(.minutes(1)))
    func channelsAreResubscribedAfterServerRestart() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let ns = testNamespace()
        let inbox = Inbox()
        let subscriber = inbox.subscriber(quickConfiguration(server.url))
        defer { subscriber.shutdown() }
        let client = RedisClient(configuration: quickConfiguration(server.url))
        defer { client.close() }
        for i in 0..<3 { try await subscriber.subscribe("\(ns):\(i)") }
        #expect(try await client.send("PUBLISH", "\(ns):0", "before").int == 1)
        #expect(inbox.resubscribeCount == 0)
        // Let it arrive first: a message still in flight when the server is SIGKILLed can be
        // lost (the kernel may answer with a reset that discards unread data). That is
        // pub/sub's at-most-once, which is why waiters re-read state after a resubscribe.
        #expect(await waitUntil { inbox.count == 1 })

        server.kill()
        try await onThread { try server.start() }
        #expect(await waitUntil { inbox.resubscribeCount == 1 })
        // onResubscribe promises that the channels are live again: publish at once, no retry.
        for i in 0..<3 {
            #expect(try await client.send("PUBLISH", "\(ns):\(i)", "after").int == 1, "channel \(i)")
        }
        #expect(await waitUntil { inbox.count == 4 })
        #expect(inbox.payloads(on: "\(ns):0") == ["before", "after"])
        #expect(inbox.resubscribeCount == 1)
    }

    @Test func subscribeWaitsForServerThatIsDown() async throws {
        let server = try await privateServer()
        let channel = testNamespace()
        let inbox = Inbox()
        let subscriber = inbox.subscriber(quickConfiguration(server.url))
        defer { subscriber.shutdown() }
        server.kill()
        defer { server.kill() }
        async let subscribed: Void = subscriber.subscribe(channel)
        try await onThread { try server.start() }
        try await subscribed
        let client = RedisClient(configuration: quickConfiguration(server.url))
        defer { client.close() }
        #expect(try await client.send("PUBLISH", channel, "late").int == 1)
    }

    /// A Redis 7 ACL user without channel rights is answered `-NOPERM`: the subscribe fails at
    /// once with an error that says which rule to add, instead of waiting forever.
    @Test func subscribeWithoutChannelRightsFailsNamingTheACL() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let url = try await restrictedUser(on: server, channels: [])
        let channel = testNamespace() + ":done:1"
        let subscriber = Inbox().subscriber(quickConfiguration(url))
        defer { subscriber.shutdown() }
        let ended = await outcome(within: .seconds(3)) { try await subscriber.subscribe(channel) }
        guard case .failure(let error as RedisError)? = ended else {
            Issue.record("expected a RedisError within 3 s, got \(String(describing: ended))")
            return
        }
        #expect(error.code == .permission)
        let prefix = channel.prefix { $0 != ":" }
        #expect(error.detail.contains("lacks the pub/sub channel permission"), "\(error.detail)")
        #expect(error.detail.contains("`&\(prefix):*`") && error.detail.contains("allchannels"), "\(error.detail)")
        #expect(!error.description.contains("\n"))
    }

    /// A refused SUBSCRIBE fails only its own channel: the thread lives on, earlier channels
    /// keep delivering and later ones subscribe as usual.
    @Test func refusedSubscriptionLeavesOtherSubscriptionsWorking() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let ns = testNamespace()
        let url = try await restrictedUser(on: server, channels: ["&\(ns):ok:*"])
        let inbox = Inbox()
        let subscriber = inbox.subscriber(quickConfiguration(url))
        defer { subscriber.shutdown() }
        let client = RedisClient(configuration: quickConfiguration(server.url))
        defer { client.close() }
        try await subscriber.subscribe("\(ns):ok:1")
        let refused = await outcome(within: .seconds(3)) { try await subscriber.subscribe("\(ns):denied") }
        guard case .failure(let error as RedisError)? = refused else {
            Issue.record("expected a RedisError within 3 s, got \(String(describing: refused))")
            return
        }
        #expect(error.code == .permission)
        #expect(try await client.send("PUBLISH", "\(ns):ok:1", "still here").int == 1)
        try await subscriber.subscribe("\(ns):ok:2")
        #expect(try await client.send("PUBLISH", "\(ns):ok:2", "new one").int == 1)
        #expect(await waitUntil { inbox.count == 2 })
        #expect(inbox.payloads(on: "\(ns):ok:1") == ["still here"])
        #expect(inbox.payloads(on: "\(ns):ok:2") == ["new one"])
    }

    /// A server that refuses the login will refuse the retry too: the pending subscribe fails
    /// with the reason, where for a server that is down it waits.
    @Test func subscribeFailsAtOnceWhenRedisRefusesTheLogin() async throws {
        let server = try await privateServer(password: "right")
        defer { server.kill() }
        var url = server.url
        url.password = "wrong"
        let subscriber = Inbox().subscriber(quickConfiguration(url))
        defer { subscriber.shutdown() }
        let ended = await outcome(within: .seconds(3)) { try await subscriber.subscribe(testNamespace()) }
        guard case .failure(let error as RedisError)? = ended else {
            Issue.record("expected a RedisError within 3 s, got \(String(describing: ended))")
            return
        }
        #expect(error.code == .authentication, "\(error)")
    }

    /// onResubscribe promises the channels are live again. The server is kept busy while the
    /// subscriber reconnects, so its SUBSCRIBE sits unanswered: a hook run before the answer
    /// publishes to nobody.
    @Test(.timeLimit(.minutes(1)))
    func resubscribeHookRunsAfterConfirmation() async throws {
        let server = try await privateServer(options: ["--enable-debug-command", "yes"])
        defer { server.kill() }
        let channel = testNamespace()
        // The hook publishes on a connection of its own, opened now, the way a waiter re-reads
        // its state: on the subscriber's thread, before it handles anything else.
        let publisher = Mutex(RedisConnection(configuration: quickConfiguration(server.url)))
        try publisher.withLock { _ = try $0.send(RedisCommand("PING")) }
        let receivers = Mutex<[Int]>([])
        let inbox = Inbox()
        // No client name: the reconnect then sends nothing before its SUBSCRIBE, so the
        // subscriber is ready to call the hook while the server still sleeps.
        var configuration = quickConfiguration(server.url)
        configuration.clientName = nil
        let subscriber = RedisSubscriber(
            configuration: configuration,
            onResubscribe: {
                let n = publisher.withLock { try? $0.send(RedisCommand("PUBLISH", channel, "after resubscribe")).int }
                receivers.withLock { $0.append(n ?? -1) }
            }
        ) { inbox.receive($0, $1) }
        defer { subscriber.shutdown() }
        try await subscriber.subscribe(channel)
        let admin = RedisClient(configuration: quickConfiguration(server.url))
        defer { admin.close() }
        // One pipeline: the subscriber's connection is closed and the server falls asleep
        // before the subscriber can reconnect, so its new SUBSCRIBE waits out the sleep.
        let replies = try await admin.pipeline([RedisCommand("CLIENT", "KILL", "TYPE", "pubsub"), RedisCommand("DEBUG", "SLEEP", "0.5")])
        #expect(replies.first?.int == 1, "\(replies)")
        #expect(await waitUntil { !receivers.withLock { $0.isEmpty } })
        #expect(receivers.withLock { $0 } == [1], "the hook ran before the server confirmed the channel")
        #expect(await waitUntil { inbox.payloads(on: channel) == ["after resubscribe"] })
    }

    /// A cancelled subscribe (its wait's deadline passed) returns at once, even while Redis
    /// does not answer, and holds no reference: the channel is unsubscribed.
    @Test func cancelledSubscribeEndsAtOnceAndHoldsNoReference() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let channel = testNamespace()
        let subscriber = Inbox().subscriber(quickConfiguration(server.url))
        defer { subscriber.shutdown() }
        let client = RedisClient(configuration: quickConfiguration(server.url))
        defer { client.close() }
        try await subscriber.subscribe(channel + ":warm")
        try await server.frozen {
            let pending = Task { try await subscriber.subscribe(channel) }
            pending.cancel()
            let ended = await outcome(within: .seconds(3)) { try await pending.value }
            guard case .failure(let error)? = ended else {
                Issue.record("expected the cancelled subscribe to throw within 3 s, got \(String(describing: ended))")
                return
            }
            #expect(error is CancellationError, "\(error)")
        }
        #expect(try await waitUntil { try await client.send("PUBSUB", "NUMSUB", channel).array?.last?.int == 0 })
        #expect(try await client.send("PUBSUB", "NUMSUB", channel + ":warm").array?.last?.int == 1)
    }

    /// An ACL user on `server` with every command and key but only the given channel rules,
    /// as Redis 7 makes users by default (`acl-pubsub-default resetchannels`).
    private func restrictedUser(on server: RedisServer, channels: [String]) async throws -> RedisURL {
        let admin = RedisClient(configuration: quickConfiguration(server.url))
        defer { admin.close() }
        let name = "kale-\(UInt32.random(in: 0...UInt32.max))"
        try await admin.send(
            RedisCommand("ACL", arguments: ["SETUSER", name, "on", ">secret", "resetchannels"] + channels + ["~*", "+@all"]))
        var url = server.url
        url.user = name
        url.password = "secret"
        return url
    }

    @Test func shutdownFailsPendingAndLaterSubscriptions() async throws {
        let inbox = Inbox()
        let subscriber = inbox.subscriber(shared.configuration())
        try await subscriber.subscribe(testNamespace())
        subscriber.shutdown()
        let error = await redisError { try await subscriber.subscribe(testNamespace() + ":late") }
        #expect(error?.code == .closed)
    }
}
