public import ExampleContracts
import Foundation
public import Kale

/// `reports.preview`: renders one page of any PDF to a PNG with poppler.
///
/// Writes `<output dir>/previews/<name>-p<page>-<id>.png`.
public struct PreviewTask: TaskDefinition {
    /// The name producers enqueue this task by.
    public static let name = TaskNames.preview

    /// Creates the task; it keeps no state between runs.
    public init() {}

    /// Runs the task.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` for bad input (dead-lettered without
    ///   retries), a retryable ``TaskFailure`` when the output cannot be written.
    public func run(_ input: PreviewInput, context: TaskContext) async throws -> PreviewOutput {
        let page = input.page ?? 1
        let width = input.width ?? 800
        guard (16...4000).contains(width) else {
            throw TaskFailure.rejected("width must be 16…4000 pixels, not \(width)", type: "InvalidDimensions")
        }
        let source = try InputFile.check(input.input)
        let document = try PDFDocument(path: source)
        guard (1...max(document.pageCount, 1)).contains(page), document.pageCount > 0 else {
            throw TaskFailure.rejected("page \(page) does not exist; \(source) has \(document.pageCount) page(s)", type: "InvalidPage")
        }
        let dir = try OutputDirectory.prepare(input.outputDir, subdirectory: "previews")
        let stem = OutputDirectory.safeStem(URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent, fallback: "document")
        let path = "\(dir)/\(stem)-p\(page)-\(OutputDirectory.shortID(context.id)).png"
        let (size, _) = try OutputDirectory.writeAtomically(path) { temporary in
            try document.renderPNG(page: page - 1, width: width, to: temporary)
        }
        return PreviewOutput(output: path, width: size.width, height: size.height)
    }
}
