import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// `kale inspect workers`: one row (or JSON object) per live worker.
struct InspectWorkers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Per live worker: host, pid, pool, concurrency, running tasks, the oldest one.",
        discussion: """
        Examples:
          kale inspect workers
          kale inspect workers --json

        --json prints one worker object per line.
        """
    )

    @OptionGroup var options: InspectOptions

    func run() async throws {
        let json = options.output.json
        try await options.show { client in
            let workers = try await client.workers()
            return json ? workers.map(\.json.jsonString).joined(separator: "\n") : InspectRender.workers(workers)
        }
    }
}
