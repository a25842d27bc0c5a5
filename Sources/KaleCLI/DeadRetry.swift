import ArgumentParser
import Foundation
import Kale

/// `kale dead retry`: sends dead tasks back to their queue.
struct DeadRetry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Send dead tasks back to their queue for a fresh set of attempts.",
        discussion: """
        Examples:
          kale dead retry 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale dead retry --all --queue images

        Prints 'requeued <id> <queue>' per task (--json: {"id","queue","requeued"} per line). Exits 1 when an id is in no dead set.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "Ids of dead tasks.")
    var ids: [String] = []

    @Flag(help: "Every dead task (of --queue, else of every queue).")
    var all = false

    @Option(help: "The queue (default: every queue).")
    var queue: String?

    func validate() throws {
        if all && !ids.isEmpty { throw ValidationError("give task ids or --all, not both") }
        if !all && ids.isEmpty { throw ValidationError("give the ids of dead tasks to retry, or --all") }
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        let client = try await global.client()
        if all {
            let refs = try await client.retryAllDead(queue: queue)
            for r in refs { report(id: r.id, queue: r.queue) }
            if !output.json { Output.note("requeued \(refs.count) dead task\(refs.count == 1 ? "" : "s")\n") }
            return
        }
        var missing: [String] = []
        for id in ids {
            let q = try await client.retryDead(id: id, queue: queue)
            report(id: id, queue: q)
            if q == nil { missing.append(id) }
        }
        if !missing.isEmpty {
            throw CLIFailure.failed("\(missing.count) of \(ids.count) ids are in no dead set: \(missing.joined(separator: ", "))",
                                    hint: "'kale dead list' shows the dead tasks")
        }
    }

    private func report(id: String, queue: String?) {
        if output.json {
            var o: [String: JSONValue] = ["id": .string(id), "requeued": .bool(queue != nil)]
            if let queue { o["queue"] = .string(queue) }
            Output.json(.object(o))
        } else if let queue {
            Output.line("requeued \(id) \(queue)")
        }
    }
}
