import ArgumentParser
import Foundation
import Kale

/// `kale dead`: the dead sets: list, retry, purge.
struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead",
        abstract: "List, retry or delete dead tasks.",
        discussion: """
        Examples:
          kale dead list --queue images
          kale dead retry 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale dead retry --all --queue images
          kale dead purge --queue images --yes
        """,
        subcommands: [DeadList.self, DeadRetry.self, DeadPurge.self]
    )
}

struct DeadList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "The newest dead tasks: id, queue, name, when it died, error.",
        discussion: """
        Examples:
          kale dead list
          kale dead list --queue images --limit 10 --json

        --json prints one dead-task object per line, newest first.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only this queue (default: every queue).")
    var queue: String?

    @Option(help: "Show at most this many.")
    var limit: Int = 50

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        let client = try await global.client()
        let tasks = try await client.deadTasks(queue: queue, limit: limit)
        if output.json {
            for t in tasks { Output.json(t.json) }
            return
        }
        guard !tasks.isEmpty else {
            Output.line("no dead tasks")
            return
        }
        var table = TextTable([("ID", .left), ("QUEUE", .left), ("NAME", .left), ("DIED AT", .left), ("ERROR", .left)])
        for t in tasks {
            table.add([t.id, t.queue, t.name.isEmpty ? "?" : t.name, Format.iso(t.diedAt),
                       t.error.map { Format.clip("\($0.type): \($0.message)", 100) } ?? "-"])
        }
        Output.line(table.render())
    }
}

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

struct DeadPurge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete dead tasks and their records.",
        discussion: """
        Examples:
          kale dead purge --queue images --yes
          kale dead purge --yes            # every queue

        Prints 'deleted <n> dead tasks from <queue>' per queue (--json: {"queue","deleted"} per line). Refuses to run without --yes.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only this queue (default: every queue).")
    var queue: String?

    @Flag(help: "Confirm the deletion.")
    var yes = false

    func validate() throws {
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        // Checked here, not in validate(), so the hint survives ArgumentParser's wrapping.
        guard yes else {
            throw CLIFailure.usage("refusing to delete dead tasks without --yes",
                                   hint: "kale dead purge \(queue.map { "--queue \($0) " } ?? "")--yes")
        }
        let client = try await global.client()
        let deleted = try await client.purgeDead(queue: queue)
        for (q, n) in deleted.sorted(by: { $0.key < $1.key }) {
            output.json ? Output.json(.object(["queue": .string(q), "deleted": .number(Double(n))]))
                        : Output.line("deleted \(n) dead task\(n == 1 ? "" : "s") from \(q)")
        }
    }
}
