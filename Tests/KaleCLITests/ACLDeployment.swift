import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// One redis-server whose users are the three roles, as `kale acl` printed them for a
/// prefix of their own (each with its password from `KALE_ACL_PASSWORD`), loaded from an
/// ACL file with the default user off and an `admin` user for setting up and checking.
final class ACLDeployment: Sendable {
    let server: RedisServer
    let prefix: String
    /// Runs `kale` with no `--redis`: each run names its user in `KALE_REDIS_URL`.
    let cli: CLI

    /// A server of its own for each test: a test that counts refusals (`ACL LOG`) must not
    /// see another's. Stop it with ``stop()``.
    init() async throws {
        prefix = testNamespace("acl")
        let generator = CLI(prefix: prefix)
        var file = ""
        for role in AccessRole.all {
            let run = try await generator.run(["acl", role.name, "--prefix", prefix], globals: false,
                                              environment: [ACLDeployment.passwordVariable: Self.password(role.name)])
            guard run.status == 0 else { throw CLITestError("kale acl \(role.name): \(run)") }
            file += run.stdout
        }
        file += "user default reset off\n"
        server = try RedisServer(aclUser: (name: "admin", password: "admin-secret"), aclFile: file)
        cli = CLI(prefix: prefix, server: server)
    }

    func stop() { server.kill() }

    static let passwordVariable = "KALE_ACL_PASSWORD"

    static func password(_ role: String) -> String { "\(role)-secret" }

    /// The URL that logs in as `role`'s user.
    func url(_ role: AccessRole) -> RedisURL {
        var url = server.url
        url.user = role.defaultUser
        url.password = Self.password(role.name)
        return url
    }

    /// The environment that makes `kale` log in as `role`.
    func environment(_ role: AccessRole) -> [String: String] { [RedisURL.environmentKey: url(role).connectionString] }

    /// Runs `kale <arguments> --prefix P` as `role`.
    func run(_ role: AccessRole, _ arguments: [String], timeout: Duration = .seconds(30)) async throws -> CLIRun {
        try await cli.run(arguments + ["--prefix", prefix], globals: false, environment: environment(role), timeout: timeout)
    }

    /// Starts `kale <arguments> --prefix P` as `role` in the background.
    func spawn(_ role: AccessRole, _ arguments: [String]) throws -> Spawned {
        try Spawned(arguments + ["--prefix", prefix], stdin: nil, environment: environment(role))
    }

    /// A client of this prefix logged in as `role` (or as the admin).
    func client(_ role: AccessRole? = nil) -> KaleClient {
        var redis = server.configuration(poolSize: 2)
        if let role { redis.url = url(role) }
        return KaleClient(configuration: KaleConfiguration(redis: redis, keys: Keys(prefix: prefix)))
    }

    /// What Redis refused since the last reset (`ACL LOG`), one line per entry: `user
    /// reason object context`; the admin's own refusals are left out.
    func refusals() async throws -> [String] {
        let admin = RedisClient(configuration: server.configuration(poolSize: 1))
        defer { admin.close() }
        let entries = try await admin.send("ACL", "LOG").array ?? []
        return entries.compactMap { entry -> String? in
            guard let fields = entry.array else { return nil }
            var d: [String: String] = [:]
            var i = 0
            while i + 1 < fields.count {
                d[fields[i].string ?? ""] = fields[i + 1].string ?? ""
                i += 2
            }
            guard d["username"] != "admin" else { return nil }
            return "\(d["username"] ?? "?") \(d["reason"] ?? "?") \(d["object"] ?? "?") \(d["context"] ?? "?")"
        }
    }
}
