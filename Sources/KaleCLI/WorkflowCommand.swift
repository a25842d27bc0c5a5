import ArgumentParser
import Foundation
import Kale

/// `kale workflow`: chains, groups and chords of tasks, as JSON.
struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Submit, show or cancel a workflow (chain, group, chord).",
        discussion: """
        Examples:
          kale workflow submit pipeline.json --wait
          kale workflow show wf-3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale workflow cancel wf-3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b

        A document is a step {"task": NAME, "args"?: …, "queue"?, "retries"?, …}, {"chain": [...]}, {"group": [...]} or {"chord": {"group": [...], "then": node}}, or {"workflow": node, "input"?, "on_error"?: step, "collect_failures"?: bool}. A step with args ignores what came before it; one without receives it. See docs/workflows.md.
        """,
        subcommands: [WorkflowSubmit.self, WorkflowShow.self, WorkflowCancel.self]
    )
}

/// `kale workflow submit FILE`.
struct WorkflowSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "Submit a workflow from a JSON file ('-' for stdin).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The workflow document.") var file: String
    @Flag(help: "Wait for it to end and print its outcome; exit 1 unless it succeeded.") var wait = false
    @Option(help: ArgumentHelp("How long --wait waits (default 60s).", valueName: "duration")) var timeout: DurationArgument?

    func validate() throws {
        if timeout != nil, !wait { throw ValidationError("--timeout needs --wait") }
    }

    func run() async throws {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: file) else {
                throw CLIFailure.usage("cannot read '\(file)'", hint: "check the path, or pass '-' to read stdin")
            }
            data = d
        }
        let document: JSONValue
        do { document = try JSONValue(parsing: data) }
        catch { throw CLIFailure.usage("'\(file)' is not valid JSON: \(JSONErrors.describe(data, fallback: error))", hint: "see docs/workflows.md for the form") }
        let request: WorkflowRequest
        do { request = try WorkflowRequest(document: document) }
        catch let e as WorkflowError { throw CLIFailure.usage(e.message, hint: "see kale workflow --help and docs/workflows.md") }
        let client = try await global.client()
        let registry = KaleCLI.registry
        let ref = try await client.submit(request.workflow, input: request.input, onError: request.onError,
                                          collectFailures: request.collectFailures) { registry.defaults(for: $0) }
        guard wait else {
            if output.json { Output.json(.object(["id": .string(ref.id)])) } else { Output.line(ref.id) }
            return
        }
        let info = try await client.waitForWorkflow(ref.id, timeout: timeout?.duration ?? .seconds(60))
        WorkflowShow.printOutcome(info, json: output.json)
        if info.state == "running" {
            throw CLIFailure(message: "workflow \(ref.id) did not end within the timeout", hint: "is a worker serving its queues? kale workflow show \(ref.id)",
                             exitCode: ExitCodes.failed)
        }
        if info.state != "succeeded" {
            throw CLIFailure(message: "workflow \(ref.id) \(info.state)", hint: "kale workflow show \(ref.id) says which step and why",
                             exitCode: ExitCodes.failed)
        }
    }
}

/// `kale workflow cancel ID`.
struct WorkflowCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a running workflow: its steps stop, none starts.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The workflow's id.") var id: String

    func run() async throws {
        let client = try await global.client()
        guard let info = try await client.workflowInfo(id) else { throw WorkflowShow.missing(id) }
        guard try await client.cancelWorkflow(id) else {
            Output.line("\(id) had already ended \(info.state); nothing to cancel")
            return
        }
        Output.line("cancelled \(id)")
    }
}
