import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// `kale ping`: checks that Redis answers, and how fast.
struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Check that Redis answers; print the round trip time and server version.",
        discussion: """
        Examples:
          kale ping
          kale ping --redis redis://:secret@redis.internal:6379/2 --json

        Prints 'PONG from <url> in <ms> ms (Redis <version>, <mode>)' (--json: {"url","rtt_ms","redis_version","redis_mode"}). On a Redis Cluster every master is asked: 'PONG from <n> masters of <url> …: <host:port>, …' (--json adds "masters"). Exits 3 when Redis, or any master, cannot be reached.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        // client() already sent one PING, which also paid for connecting; time a second one,
        // on every master of a cluster (any one of them answering says little of the others).
        let client = try await global.client()
        let start = ContinuousClock.now
        let pongs = try await client.redis.sendToEveryMaster(RedisCommand("PING"))
        let rtt = (ContinuousClock.now - start).seconds * 1000
        var failed: [String] = []
        for (node, reply) in pongs {
            switch reply {
            case .success(let r) where r.string == "PONG": continue
            case .success(let r): failed.append("\(node) answered \(r)")
            case .failure(let e): failed.append("\(node): \(e)")
            }
        }
        if !failed.isEmpty {
            throw RedisError(.connectionRefused, detail: "\(failed.count) of \(pongs.count) masters did not answer PING (\(failed.joined(separator: "; ")))")
        }
        let info = RedisCommand("INFO", "server")
        let nodes: [(node: String, version: String, mode: String)] = try await client.redis.sendToEveryMaster(info).map { node, reply in
            // A refusal (a role without INFO, docs/acl.md) is reported, as on one server.
            let fields = Self.fields(of: try reply.get().throwingServerError(for: info, user: client.redis.configuration.url.user).string ?? "")
            return (node, fields["redis_version"] ?? "unknown", fields["redis_mode"] ?? "unknown")
        }
        let version = Set(nodes.map(\.version)).sorted().joined(separator: ", ")
        let mode = nodes.first?.mode ?? "unknown"
        let url = try global.redisURL().description
        if output.json {
            var object: [String: JSONValue] = ["url": .string(url), "rtt_ms": .number((rtt * 1000).rounded() / 1000),
                                               "redis_version": .string(version), "redis_mode": .string(mode)]
            if nodes.count > 1 || mode == "cluster" {
                object["masters"] = .array(nodes.map { .object(["node": .string($0.node), "redis_version": .string($0.version)]) })
            }
            Output.json(.object(object))
        } else if nodes.count > 1 || mode == "cluster" {
            Output.line("PONG from \(nodes.count) masters of \(url) in \(String(format: "%.3f", rtt)) ms (Redis \(version), \(mode)): "
                        + nodes.map(\.node).joined(separator: ", "))
        } else {
            Output.line("PONG from \(url) in \(String(format: "%.3f", rtt)) ms (Redis \(version), \(mode))")
        }
    }

    private static func fields(of info: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in info.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }
}
