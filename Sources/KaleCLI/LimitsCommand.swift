import ArgumentParser
import Foundation
import Kale

/// `kale limits`: fleet-wide rate limits and concurrency caps per task name.
struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits",
        abstract: "Set, list or clear task rate limits and concurrency caps.",
        discussion: """
        Examples:
          kale limits set reports.render --rate 50/s --burst 10
          kale limits set mail.send --rate 10/m --key customer
          kale limits set pdf.render --concurrency 2
          kale limits list --json
          kale limits clear reports.render

        Limits hold across every worker. A task over its limit is deferred, never failed: it spends no attempt and runs when the limit allows. With --key FIELD each value of that field of the task's input has limits of its own. Changes apply within a second, without restarting workers.
        """,
        subcommands: [LimitsSet.self, LimitsList.self, LimitsClear.self]
    )
}

/// `kale limits set TASK …`.
struct LimitsSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Set the limits of a task (replacing any it had).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The task name.") var task: String
    @Option(help: ArgumentHelp("At most COUNT starts per PERIOD: 50/s, 10/m, 1000/h, 3/10s.", valueName: "rate")) var rate: String?
    @Option(help: "How many may start at once when the rate allows (default 1).") var burst: Int?
    @Option(help: "At most this many running at once, fleet-wide.") var concurrency: Int?
    @Option(help: ArgumentHelp("Separate limits per value of this field of the input.", valueName: "field")) var key: String?

    func validate() throws {
        if burst != nil, rate == nil { throw ValidationError("--burst needs --rate") }
        guard rate != nil || concurrency != nil else {
            throw ValidationError("give --rate, --concurrency or both")
        }
    }

    func run() async throws {
        let limits = TaskLimits(rate: try rate.map { try TaskLimits.Rate(parsing: $0) }, burst: burst ?? 1,
                                concurrency: concurrency, keyField: key)
        try await global.client().setLimits(limits, for: task)
        if output.json {
            Output.json(LimitsCommand.json(task, limits))
        } else {
            Output.line("limits of \(task): \(limits.summary)")
        }
    }
}

/// `kale limits list`.
struct LimitsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List every task's limits.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let all = try await global.client().limits().sorted { $0.key < $1.key }
        if output.json {
            Output.json(.array(all.map { LimitsCommand.json($0.key, $0.value) }))
            return
        }
        guard !all.isEmpty else { return Output.line("no task limits set") }
        var table = TextTable([("TASK", .left), ("RATE", .left), ("BURST", .right), ("CONCURRENCY", .right), ("PER", .left), ("SET BY", .left)])
        for (name, l) in all {
            table.add([name, l.rate?.description ?? "-", l.rate == nil ? "-" : String(l.burst),
                       l.concurrency.map(String.init) ?? "-", l.keyField ?? "-", l.origin.rawValue])
        }
        Output.line(table.render())
    }
}

/// `kale limits clear TASK`.
struct LimitsClear: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Remove the limits of a task.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The task name.") var task: String

    func run() async throws {
        let removed = try await global.client().clearLimits(for: task)
        if output.json {
            Output.json(.object(["task": .string(task), "cleared": .bool(removed)]))
        } else {
            Output.line(removed ? "cleared the limits of \(task)" : "\(task) had no limits")
        }
    }
}

extension LimitsCommand {
    /// `{"task","rate","burst","concurrency","key","origin"}`, absent limits as null.
    static func json(_ task: String, _ l: TaskLimits) -> JSONValue {
        .object([
            "task": .string(task), "rate": l.rate.map { .string($0.description) } ?? .null,
            "burst": .number(Double(l.burst)), "concurrency": l.concurrency.map { .number(Double($0)) } ?? .null,
            "key": l.keyField.map { .string($0) } ?? .null, "origin": .string(l.origin.rawValue),
        ])
    }
}
