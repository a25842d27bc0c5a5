import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// `kale inspect` (`overview`): every queue and every live worker.
struct InspectOverview: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overview",
        abstract: "Every queue and every live worker (the default).",
        discussion: """
        Example:
          kale inspect overview --watch

        --json prints one object: {"queues": [queue objects], "workers": [worker objects]}.
        """
    )

    @OptionGroup var options: InspectOptions

    func run() async throws {
        let json = options.output.json
        try await options.show { client in
            async let stats = client.stats()
            async let workers = client.workers()
            let (s, w) = try await (stats, workers)
            if json { return JSONValue.object(["queues": .array(s.map(\.json)), "workers": .array(w.map(\.json))]).jsonString }
            return InspectRender.queues(s) + "\n\n" + InspectRender.workers(w)
        }
    }
}
