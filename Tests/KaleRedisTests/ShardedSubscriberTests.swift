@testable import KaleRedis
import KaleTestSupport
import Synchronization
import Testing

/// Shard channels on six real cluster nodes: held on the master of their slot, and placed
/// again when a reshard takes the slot away (Redis says `sunsubscribe`) and when that master
/// is kill -9'd and its replica takes over.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ShardedSubscriberTests {
    /// What the subscriber reported, in order.
    final class Record: Sendable {
        let messages = Mutex<[(String, String)]>([])
        let resubscribed = Mutex<[String]>([])
        func count(_ payload: String) -> Int { messages.withLock { $0.filter { $0.1 == payload }.count } }
    }

    @Test func aChannelFollowsItsSlotThroughAReshardAndAFailover() async throws {
        let cluster = try await onThread { try ClusterDeployment() }
        defer { cluster.kill() }
        let record = Record()
        let subscriber = ShardedSubscriber(
            configuration: cluster.configuration(),
            onResubscribe: { channel in record.resubscribed.withLock { $0.append(channel) } },
            onMessage: { channel, payload in record.messages.withLock { $0.append((channel, String(decoding: payload, as: UTF8.self))) } })
        defer { subscriber.shutdown() }
        let channel = "kale:{sharded-q}:done:t1"
        let slot = ClusterSlot.of(channel)
        try await subscriber.subscribe(channel)

        /// The channel's subscriber count on every master: one on `holder`, none elsewhere.
        func expectHeld(by holder: RedisServer, _ step: String) throws {
            for master in try cluster.masters() {
                let count = try cluster.ask(master, "PUBSUB", "SHARDNUMSUB", channel).array?[1].int
                #expect(count == (master.port == holder.port ? 1 : 0), "\(step): port \(master.port) has \(count ?? -1)")
            }
        }
        /// SPUBLISH on the slot's master reaches the subscriber.
        func expectDelivered(_ payload: String, _ step: String) async throws {
            let owner = try cluster.owner(ofSlot: slot)
            #expect(try cluster.ask(owner, "SPUBLISH", channel, payload).int == 1, "\(step): one receiver")
            #expect(await waitUntil(timeout: .seconds(5)) { record.count(payload) == 1 }, "\(step): delivered once")
        }

        let first = try cluster.owner(ofSlot: slot)
        try expectHeld(by: first, "subscribed")
        try await expectDelivered("before", "subscribed")
        #expect(subscriber.nodeCount == 1, "one connection, to the one master that serves the channel")

        // A reshard takes the slot to another master: Redis drops the subscription there and
        // the subscriber places it on the new owner, then says so.
        let second = try #require(try cluster.masters().first { $0.port != first.port })
        try await onThread { try cluster.moveSlot(slot, to: second) }
        #expect(await waitUntil(timeout: .seconds(10)) { record.resubscribed.withLock { $0.count } == 1 }, "placed again after the reshard")
        try expectHeld(by: second, "after the reshard")
        try await expectDelivered("after-reshard", "after the reshard")

        // The new owner dies; its replica takes the slot.
        let promoted = try await onThread { try cluster.killMaster(second) }
        #expect(await waitUntil(timeout: .seconds(15)) { record.resubscribed.withLock { $0.count } == 2 }, "placed again after the failover")
        try expectHeld(by: promoted, "after the failover")
        try await expectDelivered("after-failover", "after the failover")
        #expect(record.resubscribed.withLock { $0 } == [channel, channel])

        // The last reference goes: the master forgets the channel (lazily, within the
        // subscriber thread's one-second poll).
        subscriber.unsubscribe(channel)
        #expect(await waitUntil(timeout: .seconds(5)) {
            (try? cluster.ask(promoted, "PUBSUB", "SHARDNUMSUB", channel).array?[1].int) == 0
        }, "unsubscribed on the master that held it")
    }

    @Test func aSubscriptionWithAStaleMapIsSentToTheNewOwner() async throws {
        let cluster = try await onThread { try ClusterDeployment() }
        defer { cluster.kill() }
        let channel = "kale:{stale-q}:done:t1"
        let slot = ClusterSlot.of(channel)
        let client = RedisClient(configuration: cluster.configuration(poolSize: 1))
        defer { client.close() }
        // The process-wide slot map learns the slot's owner, then the slot moves behind its
        // back: the next SSUBSCRIBE is answered MOVED and must be sent on.
        try await client.send("SET", "kale:{stale-q}:warm", "1")
        let first = try cluster.owner(ofSlot: slot)
        let second = try #require(try cluster.masters().first { $0.port != first.port })
        try await onThread { try cluster.moveSlot(slot, to: second) }
        let received = Mutex(0)
        let subscriber = ShardedSubscriber(configuration: cluster.configuration(), onMessage: { _, _ in received.withLock { $0 += 1 } })
        defer { subscriber.shutdown() }
        try await subscriber.subscribe(channel)
        #expect(try cluster.ask(second, "PUBSUB", "SHARDNUMSUB", channel).array?[1].int == 1)
        #expect(try cluster.ask(second, "SPUBLISH", channel, "x").int == 1)
        #expect(await waitUntil(timeout: .seconds(5)) { received.withLock { $0 } == 1 })
    }

    @Test func redirectionsAreRetriedAndRefusalsAreNot() {
        #expect(ShardedSubscriber.isRetryable(RedisError(.server, detail: "MOVED 12 127.0.0.1:7000")))
        #expect(ShardedSubscriber.isRetryable(RedisError(.server, detail: "CLUSTERDOWN The cluster is down")))
        #expect(ShardedSubscriber.isRetryable(RedisError(.connectionRefused, detail: "x")))
        #expect(!ShardedSubscriber.isRetryable(RedisError(.permission, detail: "NOPERM")))
        #expect(!ShardedSubscriber.isRetryable(RedisError(.server, detail: "ERR unknown command")))
        // A refusal's MOVED is read as the router reads a reply's (ClusterRoutingTests).
        #expect(ClusterRouter.redirection(in: [.error(RedisError(.server, detail: "MOVED 12 127.0.0.1:7000").detail)])
            == .moved(slot: 12, node: .init(host: "127.0.0.1", port: 7000)))
    }
}
