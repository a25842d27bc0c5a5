public import ExampleContracts
import Foundation
public import Kale

/// `images.convert`: re-encodes an image as JPEG, PNG or WebP at its own size.
///
/// Writes `<output dir>/converted/<name>-<id>.<format>`.
public struct ConvertTask: TaskDefinition {
    /// The name producers enqueue this task by.
    public static let name = TaskNames.convert

    /// Creates the task; it keeps no state between runs.
    public init() {}

    /// Runs the task.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` for bad input (dead-lettered without
    ///   retries), a retryable ``TaskFailure`` when the output cannot be written.
    public func run(_ input: ConvertInput, context: TaskContext) async throws -> ImageOutput {
        let format = try ImageFormat(parsing: input.format)
        let source = try InputFile.check(input.input)
        _ = try ImageLimits.checkSource(source)
        try context.checkCancellation()

        let dir = try OutputDirectory.prepare(input.outputDir, subdirectory: "converted")
        let stem = OutputDirectory.safeStem(URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent, fallback: "image")
        let path = "\(dir)/\(stem)-\(OutputDirectory.shortID(context.id))\(format.suffix)"
        let (size, bytes) = try OutputDirectory.writeAtomically(path) { temporary in
            do { return try Vips.convert(source, to: temporary) }
            catch { throw TaskFailure.rejected("cannot convert \(source) to \(format.rawValue): \(error)", type: "ImageError") }
        }
        return ImageOutput(output: path, width: size.width, height: size.height, bytes: bytes)
    }
}
