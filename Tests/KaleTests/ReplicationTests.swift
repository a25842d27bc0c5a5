import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// Replicated enqueues against a real master and replica: WAIT after the write, on the same
/// connection, and a clear error when the replica does not confirm in time.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ReplicationTests {
    @Test func aReplicatedEnqueueReturnsOnlyOnceTheReplicaHoldsTheTask() async throws {
        let (master, replica) = try RedisServer.masterWithReplica()
        defer { master.kill(); replica.kill() }
        let f = KaleFixture(server: master) { $0.replication = Replication(replicas: 1, timeout: .seconds(2)) }
        let ref = try await f.client.enqueue(name: "t", args: .null)
        let onReplica = RedisConnection(configuration: replica.configuration(poolSize: 1))
        // Read at once, without waiting: the enqueue returned after the replica acknowledged.
        #expect(try onReplica.send(RedisCommand("HGET", f.keys.task("default", ref.id), "state")).string == "pending")
        let batch = try await f.client.enqueueBatch(name: "t", args: Array(repeating: .null, count: 300))
        let states = try onReplica.execute(batch.map { RedisCommand("HGET", f.keys.task("default", $0.id), "state") })
        #expect(states.allSatisfy { $0.string == "pending" })
    }

    @Test func anEnqueueNoReplicaConfirmsThrowsNotReplicatedAndASecondTryTellsWhenItIsSafe() async throws {
        let (master, replica) = try RedisServer.masterWithReplica()
        defer { master.kill(); replica.kill() }
        let f = KaleFixture(server: master) { $0.replication = Replication(replicas: 1, timeout: .milliseconds(300)) }
        let options = EnqueueOptions(id: "must-survive")
        let began = ContinuousClock.now
        let refused: KaleError? = try await replica.frozen {
            do {
                _ = try await f.client.enqueue(name: "t", args: .null, options: options)
                return nil
            } catch let e as KaleError {
                return e
            }
        }
        let took = ContinuousClock.now - began
        #expect(refused?.code == .notReplicated)
        #expect(refused?.detail.contains("only 0 of 1 replica(s)") == true, "\(String(describing: refused))")
        #expect(took >= .milliseconds(300) && took < .seconds(3), "the wait is bounded by the timeout: \(took)")
        // Written on the master all the same: it may run, it is just not promised.
        #expect(try await f.client.status(of: "must-survive", queue: "default")?.state == .pending)
        // With the replica back, enqueueing again finds the task and confirms it is replicated.
        let again = await #expect(throws: KaleError.self) { _ = try await f.client.enqueue(name: "t", args: .null, options: options) }
        #expect(again?.code == .duplicateID, "a replicated duplicate says duplicate, not notReplicated: \(String(describing: again))")
        // Per enqueue: no replication asked, no wait, even with the replica frozen.
        let quick = try await replica.frozen {
            let t0 = ContinuousClock.now
            var plain = KaleFixture(server: master).configuration
            plain.replication = nil
            let client = KaleClient(configuration: plain)
            _ = try await client.enqueue(name: "t", args: .null)
            return ContinuousClock.now - t0
        }
        #expect(quick < .milliseconds(250))
    }

    @Test func aBatchThatIsNotReplicatedNamesTheTasksItWrote() async throws {
        let (master, replica) = try RedisServer.masterWithReplica()
        defer { master.kill(); replica.kill() }
        let f = KaleFixture(server: master)
        let error: KaleError? = try await replica.frozen {
            do {
                _ = try await f.client.enqueueBatch(name: "t", args: Array(repeating: .null, count: 10),
                                                    options: EnqueueOptions(replication: Replication(replicas: 1, timeout: .milliseconds(200))))
                return nil
            } catch let e as KaleError {
                return e
            }
        }
        #expect(error?.code == .notReplicated)
        #expect(error?.batch?.compactMap { $0 }.count == 10, "every written task is named, to be checked or sent again")
    }
}
