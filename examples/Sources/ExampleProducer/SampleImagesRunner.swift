import Foundation
import KaleExamples

/// Draws the samples with a line of output, since the largest takes a moment.
enum SampleImagesRunner {
    static func ensure(_ directory: String) throws -> [String] {
        let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
        let missing = SampleImages.sizes.filter {
            !FileManager.default.fileExists(atPath: "\(absolute)/sample-\($0.width)x\($0.height).\($0.format)")
        }
        if !missing.isEmpty {
            print("drawing \(missing.count) sample image(s) into \(absolute) …")
        }
        return try SampleImages.ensure(in: absolute)
    }
}
