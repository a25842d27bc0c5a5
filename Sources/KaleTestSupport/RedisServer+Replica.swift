import Foundation
import KaleRedis

extension RedisServer {
    /// A master and one replica on free loopback ports, returned once the replica
    /// acknowledges writes: online is not enough, since until its first acknowledgement a
    /// replica counts for no WAIT.
    public static func masterWithReplica(timeout: Duration = .seconds(20)) throws -> (master: RedisServer, replica: RedisServer) {
        let master = try RedisServer(options: ["--repl-diskless-sync-delay", "0"])
        let replica = try RedisServer(options: ["--replicaof", "127.0.0.1", "\(master.port)"])
        let probe = RedisConnection(configuration: master.configuration(poolSize: 1))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let replies = try? probe.execute([RedisCommand("SET", "kale-test-sync", "1"), RedisCommand("WAIT", 1, 100)])
            if replies?.last?.int == 1 { return (master, replica) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        master.kill()
        replica.kill()
        throw RedisError(.timeout, detail: "the replica did not come online within \(timeout)")
    }
}
