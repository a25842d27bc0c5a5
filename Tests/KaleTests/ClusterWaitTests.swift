import Kale
import KaleRedis
import KaleTestSupport
import Synchronization
import Testing

/// Awaiting a task on a real six-node Redis Cluster: the waiter holds a shard channel in the
/// queue's slot on that slot's master, the script that records the result SPUBLISHes the
/// whole record there, and no classic channel or subscription is involved.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ClusterWaitTests {
    @Test func aWaitIsWokenBySharedPubSubOnTheQueuesMaster() async throws {
        let d = try ClusterDeployment()
        defer { d.kill() }
        let f = KaleFixture(server: d.nodes[0], redis: d.configuration())
        let queue = "cluster-wait"
        let ref = try await f.client.enqueue(name: "t", args: .null, options: .init(queue: queue))
        let channel = f.keys.shardDoneChannel(queue, ref.id)
        let owner = try d.owner(ofSlot: try d.slot(of: f.keys.queuePrefix(queue)))

        // A second listener on the same channel sees what is published.
        let seen = Mutex<[String]>([])
        let listener = ShardedSubscriber(configuration: d.configuration(), onMessage: { _, payload in
            seen.withLock { $0.append(String(decoding: payload, as: UTF8.self)) }
        })
        defer { listener.shutdown() }
        try await listener.subscribe(channel)

        let waiter = Task { try await f.client.wait(for: ref.id, queue: queue, timeout: .seconds(20)) }
        #expect(await waitUntil(timeout: .seconds(5)) {
            (try? d.ask(owner, "PUBSUB", "SHARDNUMSUB", channel).array?[1].int) == 2
        }, "the waiter subscribed on the master of the queue's slot")
        for node in d.nodes {
            #expect(try d.ask(node, "PUBSUB", "NUMSUB", f.keys.doneChannel(ref.id)).array?[1].int == 0, "no classic subscriber")
        }

        let now = Broker.now()
        let reply = try await f.redis.send(f.client.broker.fetch(queue: queue, worker: "w", lease: "l1", count: 1,
                                                                 leaseDeadline: now + 10_000, now: now))
        let leased = try #require(Broker.leased(from: reply, queue: queue, lease: "l1").first)
        _ = try await f.redis.send(f.client.broker.startCommand(leased, worker: "w", now: now))
        let ended = try await f.redis.send(f.client.broker.succeedCommand(leased, worker: "w", result: Array("42".utf8),
                                                                          startedAt: now, now: now + 1))
        // A plain 1, not {1, start}: the slot's guard at the end of KEYS is no folded start.
        #expect(ended == .integer(1), "\(ended)")
        #expect(try await f.redis.send("EXISTS", f.keys.queuePrefix(queue) + "slot-guard").int == 0, "the guard is never written")
        let info = try await waiter.value
        #expect(info.state == .succeeded)
        #expect(info.result?.jsonString == "42")
        // The record itself went out (a JSON array of fields and values), on the shard only.
        #expect(await waitUntil(timeout: .seconds(5)) { seen.withLock { $0.count } == 1 })
        let payload = seen.withLock { $0.first } ?? ""
        #expect(payload.hasPrefix("[") && payload.contains("\"succeeded\""), "the whole record: \(payload.prefix(200))")
    }
}
