import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// `kale inspect queues`: one row (or JSON object) per queue.
struct InspectQueues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Per queue: pending, scheduled, active, dead, and tasks ended in the last minute.",
        discussion: """
        Examples:
          kale inspect queues
          kale inspect queues --json | jq .pending

        --json prints one queue object per line.
        """
    )

    @OptionGroup var options: InspectOptions

    func run() async throws {
        let json = options.output.json
        try await options.show { client in
            let stats = try await client.stats()
            return json ? stats.map(\.json.jsonString).joined(separator: "\n") : InspectRender.queues(stats)
        }
    }
}
