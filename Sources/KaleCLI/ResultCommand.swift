import ArgumentParser
import Kale

/// `kale result`: shows a task's state and result or error, optionally waiting for its end.
struct ResultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result",
        abstract: "Show a task's state and its result or error.",
        discussion: """
        Examples:
          kale result 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale result 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b --wait --timeout 30s

        Prints one line: id, state, then the result as JSON or the error (--json: the task object). Exits 0 only when the task succeeded; 1 when it failed, has not ended yet, did not end within --timeout, or does not exist.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "The task id.")
    var id: String

    @Option(help: "The task's queue (default: search every queue).")
    var queue: String?

    @Flag(help: "Wait until the task ends.")
    var wait = false

    @Option(help: ArgumentHelp("With --wait: give up after this long (default: no limit).", valueName: "duration"))
    var timeout: DurationArgument?

    func validate() throws {
        if timeout != nil && !wait { throw ValidationError("--timeout needs --wait") }
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        let client = try await global.client()
        var info: TaskInfo?
        var timedOut = false
        if wait {
            do {
                info = try await client.wait(for: id, queue: queue, timeout: timeout?.duration ?? BatchWait.forever)
            } catch let e as KaleError where e.code == .timeout {
                info = try await client.status(of: id, queue: e.queue ?? queue)
                timedOut = true
            } catch let e as KaleError where e.code == .notFound {
                info = nil
            }
        } else {
            info = try await client.status(of: id, queue: queue)
        }
        guard let info else { throw CLIFailure.notFound(id) }
        output.json ? Output.json(info.json(timedOut: timedOut)) : Output.line(info.line)
        if timedOut {
            throw CLIFailure.failed("task \(id) did not end within \(Format.duration(timeout?.duration ?? .zero)) (it is \(info.state.rawValue))",
                                    hint: "is a worker serving queue '\(info.queue)'?")
        }
        if info.state != .succeeded {
            throw info.state.isTerminal
                ? CLIFailure.failed("task \(id) ended \(info.state.rawValue)", hint: nil)
                : CLIFailure.failed("task \(id) has not ended (it is \(info.state.rawValue))", hint: "pass --wait to wait for it")
        }
    }
}

/// `kale cancel`: cancels a waiting task, or asks the worker running it to stop.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a task that has not ended.",
        discussion: """
        Examples:
          kale cancel 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale cancel 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b --queue images --json

        A waiting task (pending, scheduled, retrying) ends cancelled at once. For a running one a stop is requested and its worker stops it. Prints the outcome: cancelled, requested, or that the task had already ended (--json: {"id","queue","outcome","state"}). Exits 1 when no such task exists.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "The task id.")
    var id: String

    @Option(help: "The task's queue (default: search every queue).")
    var queue: String?

    func validate() throws {
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        let client = try await global.client()
        // The cancel script answers `cancelled` both when it cancels and when the task had
        // already ended cancelled; reading the state first tells the two apart.
        guard let before = try await client.status(of: id, queue: queue) else { throw CLIFailure.notFound(id) }
        let outcome = before.state.isTerminal
            ? before.state.rawValue
            : try await client.cancel(id: id, queue: before.queue)
        if outcome == "missing" { throw CLIFailure.notFound(id) }
        let alreadyEnded = before.state.isTerminal || (outcome != "cancelled" && outcome != "requested")
        if output.json {
            Output.json(.object(["id": .string(id), "queue": .string(before.queue), "outcome": .string(alreadyEnded ? "already_ended" : outcome),
                                 "state": .string(alreadyEnded ? outcome : outcome == "requested" ? "started" : "cancelled")]))
        } else if alreadyEnded {
            Output.line("\(id) had already ended \(outcome); nothing to cancel")
        } else if outcome == "requested" {
            Output.line("requested \(id): it is running; its worker stops it")
        } else {
            Output.line("cancelled \(id)")
        }
    }
}
