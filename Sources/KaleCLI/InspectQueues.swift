import ArgumentParser
import Foundation
import Kale
import KaleCelery
import KaleRedis

/// `kale inspect queues`: one row (or JSON object) per queue.
struct InspectQueues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Per queue: pending, scheduled, active, dead, and tasks ended in the last minute; bridged Celery queues.",
        discussion: """
        Examples:
          kale inspect queues
          kale inspect queues --json | jq .pending

        Celery queues that workers take over (--celery-queues) follow, with kombu's list lengths per priority (0, 3, 6, 9), Kale's intake list and kombu's unacked hash.

        --json prints one queue object per line (Celery queues: {"celery_queue", "broker_prefix", "kombu_pending", "intake", "unacked"}).
        """
    )

    @OptionGroup var options: InspectOptions

    func run() async throws {
        let json = options.output.json
        try await options.show { client in
            let stats = try await client.stats()
            let celery = try await CeleryQueueStats.all(client)
            if json { return (stats.map(\.json) + celery.map(\.json)).map(\.jsonString).joined(separator: "\n") }
            return InspectRender.queues(stats) + (celery.isEmpty ? "" : "\n\n" + InspectRender.celeryQueues(celery))
        }
    }
}
