import ArgumentParser
import Foundation
import Kale

/// `kale schedule`: periodic tasks, fired by the workers exactly once per tick.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Add, list, pause, resume, remove or run periodic tasks.",
        discussion: """
        Examples:
          kale schedule add nightly --task report --cron '0 3 * * *' --tz Asia/Tokyo
          kale schedule add heartbeat --task kale.noop --every 30s
          kale schedule list
          kale schedule pause nightly
          kale schedule run-now nightly

        Schedules live in Redis and need no process of their own: one of the running workers leads and fires each tick exactly once, and another takes over within its lease (10 s) when it dies. Changes apply within a second, without restarts. Cron takes 5 fields (or 6 with seconds first), names of months and days, ranges, steps, lists and @hourly-style aliases, in the time zone --tz (default UTC).
        """,
        subcommands: [ScheduleAdd.self, ScheduleList.self, SchedulePause.self, ScheduleResume.self, ScheduleRemove.self,
                      ScheduleRunNow.self]
    )

    /// A schedule error as the CLI's one-line usage error.
    static func usage(_ error: ScheduleError) -> CLIFailure {
        CLIFailure.usage(error.message, hint: "see kale schedule add --help for the forms cron and --every take")
    }
}

/// `kale schedule add NAME …`.
struct ScheduleAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a schedule, or replace the one of that name.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The schedule's name (letters, digits, '.', '_', '-', ':').") var name: String
    @Option(help: "The registered task name to enqueue.") var task: String
    @Option(help: ArgumentHelp("A cron expression, e.g. '*/5 * * * *' or @daily.", valueName: "expr")) var cron: String?
    @Option(help: ArgumentHelp("The cron's IANA time zone (default UTC).", valueName: "zone")) var tz: String?
    @Option(help: ArgumentHelp("A fixed interval instead of cron: 30s, 5m, 1h30m.", valueName: "duration")) var every: String?
    @Option(help: ArgumentHelp("The task's input as JSON text (default {}).", valueName: "json")) var args: String?
    @Option(help: "The queue (default: the task's registered queue, else default).") var queue: String?
    @Option(name: .customLong("catch-up"), help: "Ticks missed while no worker ran: none (skip) or one (one late run).")
    var catchUp: String = "none"
    @Flag(help: "Add it paused.") var paused = false

    func validate() throws {
        if (cron == nil) == (every == nil) { throw ValidationError("give exactly one of --cron and --every") }
        if tz != nil, cron == nil { throw ValidationError("--tz goes with --cron") }
        if ScheduleDefinition.CatchUp(rawValue: catchUp) == nil { throw ValidationError("--catch-up is none or one, not '\(catchUp)'") }
    }

    func run() async throws {
        let timing: ScheduleTiming
        do { timing = try cron.map { try ScheduleTiming(cron: $0, timeZone: tz) } ?? ScheduleTiming(every: every ?? "") }
        catch let error as ScheduleError { throw ScheduleCommand.usage(error) }
        var input = JSONValue.object([:])
        if let args {
            do { input = try JSONValue(parsing: Data(args.utf8)) }
            catch { throw CLIFailure.usage("--args is not valid JSON: \(JSONErrors.describe(Data(args.utf8), fallback: error))", hint: #"example: --args '{"ms": 100}'"#) }
        }
        let client = try await global.client()
        let q = queue ?? KaleCLI.registry.defaults(for: task)?.queue ?? client.configuration.defaultQueue
        let definition = ScheduleDefinition(name: name, task: task, timing: timing, args: input, queue: q,
                                            catchUp: ScheduleDefinition.CatchUp(rawValue: catchUp) ?? .none, paused: paused)
        try await client.addSchedule(definition)
        guard let status = try await client.schedules().first(where: { $0.definition.name == name }) else { return }
        if output.json { return Output.json(ScheduleList.json(status)) }
        Output.line("schedule \(name): \(task) \(timing.summary) on \(q)"
            + (status.nextFire.map { ", next at \(ScheduleList.time($0))" } ?? (paused ? ", paused" : "")))
    }
}

/// `kale schedule list`.
struct ScheduleList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the schedules: next and last fire, state.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let all = try await global.client().schedules()
        if output.json { return Output.json(.array(all.map(Self.json))) }
        guard !all.isEmpty else { return Output.line("no schedules") }
        var t = TextTable([("NAME", .left), ("TASK", .left), ("WHEN", .left), ("QUEUE", .left), ("NEXT", .left),
                           ("LAST FIRED", .left), ("FIRED", .right), ("REFUSED", .right), ("STATE", .left)])
        for s in all {
            let d = s.definition
            t.add([d.name, d.task, d.timing.summary, d.queue, s.nextFire.map(Self.time) ?? "-", s.lastFiredAt.map(Self.time) ?? "-",
                   "\(s.fired)", "\(s.refusedDuplicates + s.refusedStaleLeader)", d.paused ? "paused" : "active"])
        }
        Output.line(t.render())
    }

    static func time(_ ms: Int64) -> String { Format.iso(Date(timeIntervalSince1970: Double(ms) / 1000)) }

    /// The `--json` object of one schedule.
    static func json(_ s: ScheduleStatus) -> JSONValue {
        let d = s.definition
        func t(_ ms: Int64?) -> JSONValue { ms.map { .string(time($0)) } ?? .null }
        let timing = (try? JSONValue(encoding: d.timing)) ?? .null
        return .object([
            "name": .string(d.name), "task": .string(d.task), "timing": timing, "summary": .string(d.timing.summary),
            "args": d.args, "queue": .string(d.queue), "catch_up": .string(d.catchUp.rawValue), "paused": .bool(d.paused),
            "origin": .string(d.origin.rawValue), "next_fire": t(s.nextFire), "last_tick": t(s.lastTick),
            "last_fired_at": t(s.lastFiredAt), "last_task_id": s.lastTaskID.map { .string($0) } ?? .null,
            "fired": .number(Double(s.fired)), "refused_duplicates": .number(Double(s.refusedDuplicates)),
            "refused_stale_leader": .number(Double(s.refusedStaleLeader)), "skipped": .number(Double(s.skipped)),
        ])
    }
}
