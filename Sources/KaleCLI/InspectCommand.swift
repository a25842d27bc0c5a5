import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// `kale inspect`: queues, workers and single tasks, once or redrawn every second.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show queues, workers or one task.",
        discussion: """
        Examples:
          kale inspect                     # every queue and every live worker
          kale inspect --watch             # the same, redrawn every second until Ctrl-C
          kale inspect queues --json
          kale inspect workers
          kale inspect task 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
        """,
        subcommands: [InspectOverview.self, InspectQueues.self, InspectWorkers.self, InspectTask.self],
        defaultSubcommand: InspectOverview.self
    )
}

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

struct InspectTask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Everything Redis holds about one task.",
        discussion: """
        Examples:
          kale inspect task 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale inspect task 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b --watch

        --json prints the task object with its args and limits. Exits 1 when there is no such task.
        """
    )

    @OptionGroup var options: InspectOptions

    @Argument(help: "The task id.")
    var id: String

    @Option(help: "The task's queue (default: search every queue).")
    var queue: String?

    func validate() throws {
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        let (id, queue, json) = (self.id, self.queue, options.output.json)
        try await options.show { client in
            guard let info = try await client.status(of: id, queue: queue) else { throw CLIFailure.notFound(id) }
            let envelope = info.message.flatMap { try? client.configuration.format.decode(Array($0.utf8)) }
            return json ? info.json(envelope: envelope).jsonString : InspectRender.task(info, envelope: envelope)
        }
    }
}
