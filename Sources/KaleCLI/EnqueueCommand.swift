import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// `kale enqueue`: sends tasks by name with JSON arguments, optionally waiting for them.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue a task by name and print its id.",
        discussion: """
        Examples:
          kale enqueue kale.echo --args '{"hello":"world"}' --wait
          kale enqueue images.thumbnail --args-file job.json --queue images
          kale enqueue kale.spin --args '{"ms":100}' --count 100 --wait --json
          kale enqueue reports.daily --eta 2030-01-01T06:00:00Z --unique daily
          kale enqueue invoices.send --id invoice:42
          kale enqueue proj.tasks.add --celery --args '{"x":2,"y":3}' --wait

        With --celery the task is sent in Celery's format to a Celery queue (default: celery) for a Celery worker (or a Kale worker that takes that queue over): --args are its keyword arguments, --priority is 0-9 (0 the highest), and --wait reads Celery's result backend.

        Without --args the task gets {}. Any name is accepted: a task that no worker knows is dead-lettered by the worker that fetches it (reason UnknownTask).

        A task that the executable running this command registers (your own, through KaleCLI.main(registry:)) gets the options it declares (queue, priority, retries, time limits) for every flag left out; a flag always wins. The stand-alone kale registers no such task: there an unset --queue means default.

        Prints one id per line (--json: {"id","queue","created"}); when Redis refuses part of a --count batch, the ids of every task it did create are printed before the error. With --wait it prints one line per task instead: id, state, then the result or the error (--json: the task object), and exits 1 unless every task succeeded.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "The registered task name, e.g. images.thumbnail.")
    var name: String

    @Option(help: ArgumentHelp("The task's input as JSON text.", valueName: "json"))
    var args: String?

    @Option(name: .customLong("args-file"), help: ArgumentHelp("Read the input JSON from a file ('-' for stdin).", valueName: "path"))
    var argsFile: String?

    @Option(help: "The queue (default: the task's registered queue, else default).")
    var queue: String?

    @Option(help: "high, normal or low (default: the task's, else normal).")
    var priority: String?

    @Option(help: ArgumentHelp("Run no earlier than this from now (250ms, 30s, 5m, 2h).", valueName: "duration"))
    var delay: DurationArgument?

    @Option(help: ArgumentHelp("Run no earlier than this time (ISO 8601, e.g. 2030-01-01T06:00:00Z).", valueName: "time"))
    var eta: String?

    @Option(help: ArgumentHelp("Never start after this long from now; the task ends expired.", valueName: "duration"))
    var expires: DurationArgument?

    @Option(help: "Retries after a failed first attempt (default: the task's, else 3; 0 = run once).")
    var retries: Int?

    @Option(name: .customLong("time-limit"), help: ArgumentHelp("Kill the task's process after this long.", valueName: "duration"))
    var timeLimit: DurationArgument?

    @Option(name: .customLong("soft-time-limit"), help: ArgumentHelp("Ask the task to stop after this long.", valueName: "duration"))
    var softTimeLimit: DurationArgument?

    @Option(help: ArgumentHelp("Create nothing while a task with this key is unfinished; print its id.", valueName: "key"))
    var unique: String?

    @Option(name: .customLong("unique-ttl"), help: ArgumentHelp("Hold the unique key at most this long (default 1h).", valueName: "duration"))
    var uniqueTTL: DurationArgument?

    @Option(help: ArgumentHelp("The task's id (default: a random UUID): 1-200 bytes, no whitespace, '{' or '}'.", valueName: "id"))
    var id: String?

    @Option(help: "Enqueue this many copies (sent in batches of 1000).")
    var count: Int = 1

    @Flag(help: "Wait for every task to end and print the results.")
    var wait = false

    @Flag(help: "Send in Celery's format to a Celery queue (see above).")
    var celery = false

    @Flag(help: "Encrypt the arguments and the result in Redis (needs KALE_SIGNING_KEYS).")
    var encrypt = false

    @OptionGroup(title: "With --celery") var celeryPrefixes: CeleryPrefixOptions

    @Option(help: ArgumentHelp("With --wait: give up after this long (default: no limit).", valueName: "duration"))
    var timeout: DurationArgument?

    /// Tasks sent per round trip with --count.
    static let batchSize = 1000

    func validate() throws {
        if celery { try validateCelery() }
        if !celery, celeryPrefixes.isSet {
            throw ValidationError("--celery-broker-prefix and --celery-result-prefix need --celery")
        }
        if args != nil && argsFile != nil { throw ValidationError("--args and --args-file cannot be used together") }
        if celery && encrypt { throw ValidationError("--encrypt is for Kale's own tasks; Celery workers could not read them") }
        if delay != nil && eta != nil { throw ValidationError("--delay and --eta cannot be used together") }
        if !celery, let priority, Priority(rawValue: priority) == nil {
            throw ValidationError("unknown priority '\(priority)' (use high, normal or low)")
        }
        if let queue, !Keys.isValidQueueName(queue) {
            throw ValidationError("'\(queue)' is not a valid queue name (letters, digits, '.', '_' or '-')")
        }
        if name.isEmpty { throw ValidationError("the task name must not be empty") }
        if let retries, retries < 0 { throw ValidationError("--retries must be 0 or more") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if unique != nil && count > 1 { throw ValidationError("--unique with --count would create one task at most") }
        if uniqueTTL != nil && unique == nil { throw ValidationError("--unique-ttl needs --unique") }
        if id != nil && count > 1 { throw ValidationError("--id with --count would reuse one id") }
        if let id, let problem = TaskID.problem(with: id) { throw ValidationError("--id: \(problem)") }
        if timeout != nil && !wait { throw ValidationError("--timeout needs --wait") }
        if let eta, EnqueueCommand.parseDate(eta) == nil {
            throw ValidationError("--eta '\(eta)' is not an ISO 8601 time such as 2030-01-01T06:00:00Z")
        }
    }

    func run() async throws {
        // Everything that can be wrong with the input is found before Redis is touched.
        let input = try loadArgs()
        if celery { return try await runCelery(input) }
        var options = enqueueOptions(defaults: KaleCLI.registry)
        // Every task reports its end to one stream, which the wait below reads
        // (KaleClient.waitAll): a blocking read per queue, however many tasks there are.
        let endGroup = KaleClient.newEndGroup()
        if wait { options.endGroup = endGroup }
        let client = try await global.client()
        var refs: [KaleClient.TaskRef] = []
        refs.reserveCapacity(count)
        while refs.count < count {
            let n = min(EnqueueCommand.batchSize, count - refs.count)
            let batch: [KaleClient.TaskRef]
            do { batch = try await client.enqueueBatch(name: name, args: Array(repeating: input, count: n), options: options) }
            catch {
                // Tasks already created exist and will run: their ids must not be lost with
                // the error (with --wait none has been printed yet).
                guard let (created, cause) = Self.refusal(error), !(refs.isEmpty && created.isEmpty) else { throw error }
                printRefs((wait ? refs : []) + created)
                let enqueued = refs.count + created.count
                throw CLIFailure.failed("enqueued \(enqueued) of \(count) tasks; Redis refused the rest: \(cause)",
                                        hint: "the ids printed were enqueued\(wait ? " (not awaited)" : ""); send the other \(count - enqueued) again")
            }
            if !wait { printRefs(batch) }
            refs += batch
        }
        if let first = refs.first, !first.created {
            Output.note("note: unique key '\(options.uniqueKey ?? "")' is held by task \(first.id); nothing new was enqueued\n")
        }
        guard wait else { return }
        let meter = ProgressMeter(total: refs.count, style: Output.stderrIsTerminal ? .bar : .lines)
        let outcomes = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await meter.run() }
            let outcomes = try await client.waitAll(refs, endGroup: endGroup, timeout: timeout?.duration) { meter.record(succeeded: $0.succeeded) }
            // Cancelling wakes the meter from its sleep, so the final line follows the last task at once.
            meter.finish()
            group.cancelAll()
            return outcomes
        }
        for o in outcomes { output.json ? Output.json(o.json) : Output.line(o.line) }
        let unsuccessful = outcomes.filter { !$0.succeeded }.count
        if unsuccessful > 0 {
            let late = outcomes.filter(\.timedOut).count
            throw CLIFailure(
                message: "\(unsuccessful) of \(outcomes.count) task\(outcomes.count == 1 ? "" : "s") did not succeed",
                hint: late > 0 ? "\(late) did not end within \(timeout.map { Format.duration($0.duration) } ?? "the timeout"); is a worker serving queue '\(refs[0].queue)'?" : "see the errors above, or 'kale dead list'",
                exitCode: ExitCodes.failed)
        }
    }

    /// What a batch that Redis refused created and why; nil when that is unknown (the
    /// connection broke) or the error was no refusal.
    private static func refusal(_ error: any Error) -> (created: [KaleClient.TaskRef], cause: String)? {
        if let e = error as? KaleError, e.code == .partialBatch { return (e.created, e.detail) }
        // A server error reply to a whole batch means none of it was written.
        if let e = error as? RedisError, e.code == .server || e.code == .permission { return ([], e.detail) }
        return nil
    }

    private func printRefs(_ batch: [KaleClient.TaskRef]) {
        for ref in batch {
            if output.json {
                Output.json(.object(["id": .string(ref.id), "queue": .string(ref.queue), "created": .bool(ref.created)]))
            } else {
                Output.line(ref.id)
            }
        }
    }

    /// The input JSON from --args, --args-file or stdin; `{}` when none is given.
    func loadArgs() throws -> JSONValue {
        let text: String
        let source: String
        if let args {
            (text, source) = (args, "--args")
        } else if let argsFile {
            let data: Data
            if argsFile == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let d = FileManager.default.contents(atPath: argsFile) else {
                    throw CLIFailure.usage("cannot read --args-file '\(argsFile)'", hint: "check the path, or pass '-' to read stdin")
                }
                data = d
            }
            (text, source) = (String(decoding: data, as: UTF8.self), argsFile == "-" ? "stdin" : "'\(argsFile)'")
        } else {
            return .object([:])
        }
        let data = Data(text.utf8)
        do { return try JSONValue(parsing: data) }
        catch {
            throw CLIFailure.usage("\(source) is not valid JSON: \(JSONErrors.describe(data, fallback: error))",
                                   hint: #"example: --args '{"ms": 100}' (quote it for the shell)"#)
        }
    }

    /// The options the flags give, over the defaults the task registered under ``name`` in
    /// `registry` declares (``TaskRegistry/defaults(for:)``): a flag always wins.
    ///
    /// Without a registered task (the stand-alone `kale`, a name only another executable
    /// registers) the flags are all there is and the worker's defaults apply.
    func enqueueOptions(defaults registry: TaskRegistry) -> EnqueueOptions {
        flagOptions().merged(over: registry.defaults(for: name) ?? EnqueueOptions())
    }

    /// The options exactly as the flags give them.
    private func flagOptions() -> EnqueueOptions {
        var o = EnqueueOptions()
        o.queue = queue
        o.priority = priority.flatMap(Priority.init(rawValue:))
        o.delay = delay?.duration
        o.eta = eta.flatMap(EnqueueCommand.parseDate)?.timeIntervalSince1970
        o.expiresIn = expires?.duration
        o.maxRetries = retries
        o.timeLimit = timeLimit?.duration
        o.softTimeLimit = softTimeLimit?.duration
        o.uniqueKey = unique
        o.uniqueTTL = uniqueTTL?.duration
        o.id = id
        if encrypt { o.encrypted = true }
        return o
    }

    /// An ISO 8601 time with a zone, with or without fractional seconds.
    static func parseDate(_ text: String) -> Date? {
        let plain = Date.ISO8601FormatStyle()
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return (try? plain.parse(text)) ?? (try? fractional.parse(text))
    }
}
