import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// Options shared by the `inspect` subcommands.
struct InspectOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Flag(help: "Redraw every second until Ctrl-C (with --json: print one snapshot per second).")
    var watch = false

    /// Prints `frame()` once, or every second with --watch.
    func show(_ frame: @escaping @Sendable (KaleClient) async throws -> String) async throws {
        let client = try await global.client()
        guard watch else {
            Output.line(try await frame(client))
            return
        }
        let header = "kale inspect · \(try global.redisURL()) · prefix \(global.prefix)"
        let json = output.json
        try await Watch.loop(clearing: !json) {
            do {
                let text = try await frame(client)
                return json ? text : "\(header) · \(Format.iso(Date()))\n\n\(text)"
            } catch let e as RedisError where e.isConnectionFailure {
                // A watch is for watching through trouble: say so and try again next second.
                return json ? "" : "\(header)\n\ncannot reach Redis: \(e.detail) (retrying)"
            }
        }
    }
}
