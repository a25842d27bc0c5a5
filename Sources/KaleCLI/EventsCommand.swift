import ArgumentParser
import Foundation
import Kale

/// `kale events`: the task and worker event streams, the newest or as they happen.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Task and worker events: the newest, or as they happen with --follow.",
        discussion: """
        Examples:
          kale events
          kale events --queue images --limit 200
          kale events --follow --json

        Each queue keeps its last 10,000 events (KALE_EVENTS_LENGTH), the workers theirs: enqueued, \
        started, retried, succeeded, dead, cancelled, expired, reaped, worker_online, worker_offline, \
        child_died. enqueued, started and succeeded are written while someone follows the queue (as \
        --follow does; KALE_EVENTS=all: always). Events name tasks (id, name, attempt, worker), never \
        their arguments.

        --json prints one event object per line, oldest first.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only this queue (repeat for several; default: every queue).")
    var queue: [String] = []

    @Option(help: "Show the newest this many (before following).")
    var limit: Int = 50

    @Flag(help: "Go on printing events as they happen, until interrupted.")
    var follow = false

    func validate() throws {
        if limit < 0 || limit > 100_000 { throw ValidationError("--limit must be between 0 and 100000") }
        for q in queue where !Keys.isValidQueueName(q) { throw ValidationError("'\(q)' is not a valid queue name") }
    }

    func run() async throws {
        let client = try await global.client()
        let queues = queue.isEmpty ? nil : queue
        if limit > 0 {
            for event in try await client.events(queues: queues, last: limit) { print(event) }
        }
        guard follow else { return }
        Output.flush()
        for try await event in client.followEvents(queues: queues) {
            print(event)
            Output.flush()
        }
    }

    private func print(_ event: KaleEvent) {
        if output.json { Output.json(event.json); return }
        var parts = [Format.iso(event.time), event.kind]
        if let queue = event.queue { parts.append(queue) }
        if let t = event.taskID { parts.append(t) }
        if let n = event.name { parts.append(n) }
        if let a = event.attempt { parts.append("attempt \(a)") }
        if let c = event.count, c > 1 { parts.append("(\(c) tasks)") }
        if let w = event.worker { parts.append("on \(w)") }
        if let p = event.pid { parts.append("pid \(p)") }
        if let x = event.detail { parts.append(x) }
        Output.line(parts.joined(separator: " "))
    }
}
