public import ExampleContracts
import Foundation
public import Kale

/// `images.thumbnail`: shrinks an image to fit (or fill) a box and saves it.
///
/// Writes `<output dir>/thumbnails/<name>-<width>w-<id>.<format>`. Bad input (a missing
/// or unreadable file, an unknown format, absurd dimensions) is rejected without retries.
public struct ThumbnailTask: TaskDefinition {
    /// The name producers enqueue this task by.
    public static let name = TaskNames.thumbnail

    /// Creates the task; it keeps no state between runs.
    public init() {}

    /// Runs the task.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` for bad input (dead-lettered without
    ///   retries), a retryable ``TaskFailure`` when the output cannot be written.
    public func run(_ input: ThumbnailInput, context: TaskContext) async throws -> ImageOutput {
        try ImageLimits.checkSide(input.width, name: "width")
        if let height = input.height { try ImageLimits.checkSide(height, name: "height") }
        let crop = input.crop ?? false
        let source = try InputFile.check(input.input)
        let format = try input.format.map(ImageFormat.init(parsing:)) ?? ImageFormat(path: source) ?? .jpeg
        _ = try ImageLimits.checkSource(source)
        try context.checkCancellation()

        // Without a height the box is as tall as needed: libvips fits the width only.
        // Cropping needs a box, so a crop without a height is a square.
        let height = input.height ?? (crop ? input.width : 10_000_000)
        let dir = try OutputDirectory.prepare(input.outputDir, subdirectory: "thumbnails")
        let stem = OutputDirectory.safeStem(URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent, fallback: "image")
        let path = "\(dir)/\(stem)-\(input.width)w-\(OutputDirectory.shortID(context.id))\(format.suffix)"
        let (size, bytes) = try OutputDirectory.writeAtomically(path) { temporary in
            do { return try Vips.thumbnail(source, to: temporary, width: input.width, height: height, crop: crop) }
            catch {
                // The header read fine, so this is a damaged body (or, rarely, a full disk:
                // `kale retry` the dead task once the disk is fixed).
                throw TaskFailure.rejected("cannot make a thumbnail of \(source): \(error)", type: "ImageError")
            }
        }
        return ImageOutput(output: path, width: size.width, height: size.height, bytes: bytes)
    }
}
