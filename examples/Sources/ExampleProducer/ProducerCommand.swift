import ArgumentParser

/// `ExampleProducer`: enqueues example work from the command line.
@main
struct ProducerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ExampleProducer",
        abstract: "Enqueue the example tasks: the demo, sample images, sample report requests.",
        subcommands: [DemoCommand.self, SamplesCommand.self, SampleReportCommand.self]
    )
}

/// `ExampleProducer samples DIR`: draws the sample images.
struct SamplesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "samples", abstract: "Draw the sample images into a directory (skips existing ones).")

    @Argument(help: "Directory to write into.")
    var directory: String

    func run() async throws {
        for path in try SampleImagesRunner.ensure(directory) { print(path) }
    }
}

/// `ExampleProducer sample-report`: prints a `POST /reports` body, for curl and benchmarks.
struct SampleReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample-report", abstract: "Print a sample report request (JSON) on stdout.")

    @Option(name: .customLong("cpu-ms"), help: "CPU milliseconds the report's simulation should cost.")
    var cpuMs = 0

    @Option(help: "Table rows.")
    var rows = 60

    @Option(help: "Report title.")
    var title = "Quarterly operations report"

    func run() async throws {
        print(try DemoData.reportJSON(title: title, rows: rows, cpuMs: cpuMs))
    }
}
