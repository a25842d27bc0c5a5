public import ExampleContracts
public import Kale

/// `reports.pdf`: renders a multi-page A4 report with cairo and pango.
///
/// Title, wrapped paragraphs, a bar chart and a table from JSON rows, and with `cpu_ms` a
/// simulation section that costs that much CPU. Writes
/// `<output dir>/reports/<title>-<id>.pdf`.
public struct ReportTask: TaskDefinition {
    /// The name producers enqueue this task by.
    public static let name = TaskNames.report

    /// Creates the task; it keeps no state between runs.
    public init() {}

    /// Runs the task.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` for bad input (dead-lettered without
    ///   retries), a retryable ``TaskFailure`` when the output cannot be written.
    public func run(_ input: ReportInput, context: TaskContext) async throws -> ReportOutput {
        let data = try ReportData(input)
        await context.reportProgress(0.05, message: "checked \(data.cells.count) rows")
        var simulation: Simulation?
        if data.cpuMilliseconds > 0 {
            simulation = try await Simulation.run(cpuMilliseconds: data.cpuMilliseconds, context: context, progress: 0.05...0.9)
        }
        try context.checkCancellation()
        await context.reportProgress(0.9, message: "rendering")
        let dir = try OutputDirectory.prepare(input.outputDir, subdirectory: "reports")
        let path = "\(dir)/\(OutputDirectory.safeStem(data.title, fallback: "report"))-\(OutputDirectory.shortID(context.id)).pdf"
        let (pages, bytes) = try OutputDirectory.writeAtomically(path) { temporary in
            try ReportRenderer.render(data, simulation: simulation, to: temporary)
        }
        await context.reportProgress(1, message: "\(pages) pages written")
        return ReportOutput(output: path, pages: pages, bytes: bytes)
    }
}
