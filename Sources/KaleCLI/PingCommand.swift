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

        Prints 'PONG from <url> in <ms> ms (Redis <version>, <mode>)' (--json: {"url","rtt_ms","redis_version","redis_mode"}). Exits 3 when Redis cannot be reached.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        // client() already sent one PING, which also paid for connecting; time a second one.
        let client = try await global.client()
        let start = ContinuousClock.now
        let reply = try await client.redis.send("PING")
        let rtt = (ContinuousClock.now - start).seconds * 1000
        guard reply.string == "PONG" else { throw RedisError(.unexpectedReply, detail: "PING answered \(reply)") }
        let info = try await client.redis.send("INFO", "server").string ?? ""
        var fields: [String: String] = [:]
        for line in info.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        let version = fields["redis_version"] ?? "unknown"
        let mode = fields["redis_mode"] ?? "unknown"
        let url = try global.redisURL().description
        if output.json {
            Output.json(.object(["url": .string(url), "rtt_ms": .number((rtt * 1000).rounded() / 1000),
                                 "redis_version": .string(version), "redis_mode": .string(mode)]))
        } else {
            Output.line("PONG from \(url) in \(String(format: "%.3f", rtt)) ms (Redis \(version), \(mode))")
        }
    }
}
