import Foundation
import Kale

/// Bounds that keep one bad request from taking a worker down.
enum ImageLimits {
    /// Largest thumbnail side accepted, in pixels.
    static let maxSide = 10_000
    /// Largest source image accepted, in megapixels: `KALE_EXAMPLES_MAX_MPX`, default 200.
    /// A small PNG can claim to be 100,000×100,000; refusing it by its header is the cheap
    /// defence against such decompression bombs.
    static let maxMegapixels = Int(ProcessInfo.processInfo.environment["KALE_EXAMPLES_MAX_MPX"] ?? "") ?? 200

    /// Checks a requested side length.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` outside 1…``maxSide``.
    static func checkSide(_ value: Int, name: String) throws {
        guard (1...maxSide).contains(value) else {
            throw TaskFailure.rejected("\(name) must be 1…\(maxSide) pixels, not \(value)", type: "InvalidDimensions")
        }
    }

    /// Reads the source's header and checks that it is an image of acceptable size.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` when libvips cannot read it or it is too big.
    static func checkSource(_ path: String) throws -> (width: Int, height: Int) {
        let size: (width: Int, height: Int, bands: Int)
        do { size = try Vips.probe(path) }
        catch { throw TaskFailure.rejected("cannot read \(path) as an image: \(error)", type: "UnreadableImage") }
        let megapixels = size.width * size.height / 1_000_000
        guard megapixels <= maxMegapixels else {
            throw TaskFailure.rejected("image is \(size.width)×\(size.height) (\(megapixels) Mpx); the limit is \(maxMegapixels) Mpx", type: "ImageTooLarge")
        }
        return (size.width, size.height)
    }
}
