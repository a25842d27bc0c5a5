import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// `kale ping` on a Redis Cluster asks every master, not whichever node a keyless command
/// happens to reach, and fails naming the master that does not answer.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ClusterPingTests {
    @Test func pingAsksEveryMasterAndNamesOneThatIsDown() async throws {
        let cluster = try ClusterDeployment(replicasPerMaster: 0)
        defer { cluster.kill() }
        let cli = CLI(prefix: testNamespace("ping"))
        let env = [RedisURL.environmentKey: cluster.url.connectionString]
        let masters = try cluster.masters().map { "127.0.0.1:\($0.port)" }.sorted()

        let json = try await cli.run(["ping", "--json"], globals: false, environment: env)
        #expect(json.status == 0, "\(json)")
        let object = try JSONValue(parsing: Data(json.stdout.utf8))
        guard case .object(let fields) = object, case .array(let listed)? = fields["masters"] else {
            Issue.record("no masters in \(json.stdout)")
            return
        }
        let nodes = listed.compactMap { entry -> String? in
            if case .object(let e) = entry, case .string(let node)? = e["node"] { return node }
            return nil
        }
        #expect(nodes.sorted() == masters)
        #expect(fields["redis_mode"] == .string("cluster"))

        let text = try await cli.run(["ping"], globals: false, environment: env)
        #expect(text.status == 0 && text.stdout.contains("PONG from 3 masters"), "\(text)")

        let down = try #require(try cluster.masters().last)
        down.kill()
        let failed = try await cli.run(["ping"], globals: false, environment: env)
        #expect(failed.status != 0, "\(failed)")
        #expect(failed.stderr.contains("127.0.0.1:\(down.port)") && failed.stderr.contains("did not answer PING"), "\(failed)")
    }
}
