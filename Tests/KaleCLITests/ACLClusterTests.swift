import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The producer and worker roles on a real six-node Redis Cluster: every node holds the users
/// `kale acl` describes, a real `kale worker` serves two queues (a listener per queue) and
/// producers enqueue and await by shard channel, with nothing refused on any node; the
/// producer still may not lease.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ACLClusterTests {
    @Test func producerAndWorkerRolesWorkOnACluster() async throws {
        let cluster = try ClusterDeployment()
        defer { cluster.kill() }
        let prefix = testNamespace("aclc")
        for node in cluster.nodes {
            let admin = RedisConnection(configuration: node.configuration(poolSize: 1))
            for role in [AccessRole.producer, AccessRole.worker] {
                let rules: [any RedisArgument] = ["SETUSER", role.defaultUser, "reset", "on", ">\(role.name)-secret"]
                    + role.rules(prefix: prefix).map { $0 as any RedisArgument }
                #expect(try admin.send(RedisCommand("ACL", arguments: rules)).string == "OK")
            }
            _ = try admin.send(RedisCommand("ACL", "LOG", "RESET"))
        }
        func url(_ role: AccessRole) -> RedisURL {
            var url = cluster.url
            url.user = role.defaultUser
            url.password = "\(role.name)-secret"
            return url
        }
        let queues = ["c-one", "c-two"]
        let worker = try Spawned(["worker", "--queues", queues.joined(separator: ","), "--concurrency", "2", "--prefix", prefix,
                                  "--log-level", "warning"],
                                 stdin: nil, environment: [RedisURL.environmentKey: url(.worker).connectionString])
        let cli = CLI(prefix: prefix)
        for q in queues {
            let run = try await cli.run(["enqueue", "kale.echo", "--count", "5", "--queue", q, "--wait", "--timeout", "30s", "--prefix", prefix],
                                        globals: false, environment: [RedisURL.environmentKey: url(.producer).connectionString])
            #expect(run.status == 0 && run.lines.count == 5 && run.lines.allSatisfy { $0.contains(" succeeded ") }, "queue \(q): \(run)")
        }
        var redis = cluster.configuration(poolSize: 2)
        redis.url = url(.producer)
        let producer = KaleClient(configuration: KaleConfiguration(redis: redis, keys: Keys(prefix: prefix)))
        let ref = try await producer.enqueue(name: "kale.echo", args: .null, options: EnqueueOptions(queue: queues[1]))
        #expect(try await producer.wait(for: ref.id, queue: queues[1], timeout: .seconds(30)).state == .succeeded)

        // The producer may not lease: refused before anything runs, naming the script.
        let parked = try await producer.enqueue(name: "kale.echo", args: .null, options: EnqueueOptions(queue: "c-parked"))
        let lease = producer.broker.fetch(queue: "c-parked", worker: "thief", lease: "1", count: 1,
                                          leaseDeadline: Broker.now() + 60_000, now: Broker.now())
        do {
            _ = try await producer.redis.send(lease)
            Issue.record("the producer leased a task")
        } catch let error as RedisError {
            #expect(error.code == .permission && error.detail.contains("may not run the script 'fetch'"), "\(error)")
        }
        #expect(try await producer.status(of: parked.id, queue: "c-parked")?.state == .pending)

        let stopped = try await worker.stop(timeout: .seconds(20))
        #expect(stopped.status == 0 && !stopped.stderr.contains("NOPERM") && !stopped.stderr.contains("CROSSSLOT"), "\(stopped)")
        // Nothing the roles needed was refused on any node (the lease above was meant to be).
        for node in cluster.nodes {
            let log = try RedisConnection(configuration: node.configuration(poolSize: 1)).send(RedisCommand("ACL", "LOG")).array ?? []
            let refused = log.compactMap { entry -> String? in
                let f = entry.array?.compactMap(\.string) ?? []
                guard let i = f.firstIndex(of: "object"), i + 1 < f.count else { return "\(entry)" }
                return f[i + 1] == "evalsha" && f.contains("kale-producer") ? nil : f.joined(separator: " ")
            }
            #expect(refused.isEmpty, "port \(node.port) refused: \(refused)")
        }
    }
}
