import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// Through Sentinel every connection sends ROLE to confirm the master: the roles allow it, and
/// a worker whose user lacks it stops at start naming `+role`.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ACLSentinelTests {
    @Test func rolesWorkThroughSentinelAndAWorkerWithoutROLEStopsNamingIt() async throws {
        let d = try SentinelDeployment(replicas: 0, sentinels: 1)
        defer { for s in d.servers + d.sentinels { s.kill() } }
        let prefix = testNamespace()
        let generator = CLI(prefix: prefix)
        let admin = RedisClient(configuration: d.servers[0].configuration(poolSize: 1))
        defer { admin.close() }
        // The rules `kale acl` printed, given to the master with ACL SETUSER; and a worker
        // user with the same rules but `+role`.
        var lines: [String: [String]] = [:]
        for role in [AccessRole.producer, AccessRole.worker] {
            let run = try await generator.run(["acl", role.name, "--prefix", prefix], globals: false,
                                              environment: [ACLDeployment.passwordVariable: "secret"])
            let words = run.stdout.trimmingCharacters(in: .newlines).split(separator: " ").map(String.init)
            lines[role.name] = words
            try await admin.send(RedisCommand("ACL", arguments: ["SETUSER"] + words.dropFirst()))
        }
        let worker = try #require(lines["worker"])
        try await admin.send(RedisCommand("ACL", arguments: ["SETUSER", "no-role"] + worker.dropFirst(2).filter { $0 != "+role" }))
        try await admin.send("ACL", "LOG", "RESET")

        func environment(_ user: String) -> [String: String] {
            var url = d.url
            url.user = user
            url.password = "secret"
            return [RedisURL.environmentKey: url.connectionString]
        }
        let daemon = try Spawned(["worker", "--queues", "q", "--concurrency", "1", "--lease", "3s", "--log-level", "warning", "--prefix", prefix],
                                 stdin: nil, environment: environment("kale-worker"))
        let done = try await generator.run(["enqueue", "kale.echo", "--args", #"{"via":"sentinel"}"#, "--queue", "q", "--wait",
                                            "--timeout", "30s", "--prefix", prefix], globals: false, environment: environment("kale-producer"))
        #expect(done.status == 0 && done.stdout.contains(#" succeeded {"via":"sentinel"}"#), "\(done)")
        #expect(try await daemon.stop(timeout: .seconds(20)).status == 0)
        let log = try await admin.send("ACL", "LOG").array ?? []
        #expect(log.isEmpty, "refused through Sentinel: \(log)")

        let refused = try await generator.run(["worker", "--queues", "q", "--prefix", prefix], globals: false,
                                              environment: environment("no-role"), timeout: .seconds(20))
        #expect(refused.status == 1, "\(refused)")
        let line = refused.stderr.split(separator: "\n").first { $0.hasPrefix("kale: error: ") } ?? ""
        #expect(line.contains("the Redis user 'no-role' may not run ROLE") && line.contains("`+role`"), "\(refused)")
    }
}
