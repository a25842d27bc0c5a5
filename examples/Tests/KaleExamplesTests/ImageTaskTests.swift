import ExampleContracts
import Foundation
import Kale
import KaleExamples
import Testing

@Suite struct ImageTaskTests {
    let out = temporaryDirectory()

    @Test func thumbnailFitsTheWidthAndKeepsTheAspectRatio() async throws {
        let result = try await ThumbnailTask().run(ThumbnailInput(input: Samples.large, width: 256, outputDir: out), context: makeContext(ThumbnailTask.name))
        #expect(result.width == 256 && result.height == 192)
        let decoded = try #require(imageSize(result.output))
        #expect(decoded.width == 256 && decoded.height == 192)
        #expect(result.output.hasPrefix(out + "/thumbnails/") && result.output.hasSuffix(".jpg"))
        #expect(magic(result.output, count: 3) == [0xFF, 0xD8, 0xFF])
        #expect(result.bytes == (try FileManager.default.attributesOfItem(atPath: result.output)[.size] as? Int))
        #expect(hiddenFiles(in: out).isEmpty, "no temporary file is left behind")
    }

    @Test func croppedThumbnailFillsTheBoxExactly() async throws {
        let input = ThumbnailInput(input: Samples.portrait, width: 200, height: 100, crop: true, format: "webp", outputDir: out)
        let result = try await ThumbnailTask().run(input, context: makeContext(ThumbnailTask.name))
        let decoded = try #require(imageSize(result.output))
        #expect(decoded.width == 200 && decoded.height == 100)
        #expect(result.output.hasSuffix(".webp"))
        #expect(Array(magic(result.output, count: 4)) == Array("RIFF".utf8))
    }

    @Test func thumbnailFitsInsideWidthAndHeight() async throws {
        let result = try await ThumbnailTask().run(ThumbnailInput(input: Samples.portrait, width: 300, height: 300, outputDir: out), context: makeContext(ThumbnailTask.name))
        #expect(result.width == 225 && result.height == 300)
    }

    @Test func thumbnailNeverEnlargesASmallImage() async throws {
        let result = try await ThumbnailTask().run(ThumbnailInput(input: Samples.png, width: 2000, outputDir: out), context: makeContext(ThumbnailTask.name))
        #expect(result.width == 640 && result.height == 640)
        #expect(result.output.hasSuffix(".png"), "keeps the input's format when none is asked for")
    }

    @Test func convertReencodesAtTheSameSize() async throws {
        let result = try await ConvertTask().run(ConvertInput(input: Samples.png, format: "jpeg", outputDir: out), context: makeContext(ConvertTask.name))
        let decoded = try #require(imageSize(result.output))
        #expect(decoded.width == 640 && decoded.height == 640)
        #expect(decoded.bands == 3, "JPEG has no alpha: the transparent PNG is flattened")
        #expect(magic(result.output, count: 3) == [0xFF, 0xD8, 0xFF])
    }

    @Test func retryOfTheSameTaskOverwritesItsOwnFile() async throws {
        let id = UUID().uuidString.lowercased()
        let input = ThumbnailInput(input: Samples.large, width: 64, outputDir: out)
        let first = try await ThumbnailTask().run(input, context: makeContext(ThumbnailTask.name, id: id))
        let second = try await ThumbnailTask().run(input, context: makeContext(ThumbnailTask.name, id: id))
        #expect(first.output == second.output)
        let other = try await ThumbnailTask().run(input, context: makeContext(ThumbnailTask.name))
        #expect(other.output != first.output, "another task never overwrites it")
    }

    // MARK: Bad input: rejected (dead-lettered, never retried) with a reason

    @Test func missingFileIsRejected() async {
        await expectRejected("input file not found") {
            _ = try await ThumbnailTask().run(ThumbnailInput(input: "/nonexistent/photo.jpg", width: 100, outputDir: out), context: makeContext(ThumbnailTask.name))
        }
    }

    @Test func directoryIsRejected() async {
        await expectRejected("directory") {
            _ = try await ThumbnailTask().run(ThumbnailInput(input: out, width: 100, outputDir: out), context: makeContext(ThumbnailTask.name))
        }
    }

    @Test func fileThatIsNoImageIsRejected() async throws {
        let path = out + "/noise.jpg"
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: URL(fileURLWithPath: path))
        await expectRejected("cannot read \(path) as an image") {
            _ = try await ThumbnailTask().run(ThumbnailInput(input: path, width: 100, outputDir: out), context: makeContext(ThumbnailTask.name))
        }
    }

    @Test func truncatedJPEGIsRejected() async throws {
        // A valid header with half the data missing: libvips would paint grey without fail_on.
        let data = try Data(contentsOf: URL(fileURLWithPath: Samples.large))
        let path = out + "/truncated.jpg"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        await expectRejected("cannot make a thumbnail") {
            _ = try await ThumbnailTask().run(ThumbnailInput(input: path, width: 100, outputDir: out), context: makeContext(ThumbnailTask.name))
        }
        #expect(hiddenFiles(in: out).isEmpty, "the failed write leaves no temporary file")
    }

    @Test func unknownFormatIsRejected() async {
        await expectRejected("unknown image format 'bmp2'") {
            _ = try await ThumbnailTask().run(ThumbnailInput(input: Samples.large, width: 100, format: "bmp2", outputDir: out), context: makeContext(ThumbnailTask.name))
        }
        await expectRejected("unknown image format 'tiff'") {
            _ = try await ConvertTask().run(ConvertInput(input: Samples.large, format: "tiff", outputDir: out), context: makeContext(ConvertTask.name))
        }
    }

    @Test(arguments: [(0, nil), (-5, nil), (100_000, nil), (100, 0), (100, 50_000)] as [(Int, Int?)])
    func absurdDimensionsAreRejected(width: Int, height: Int?) async {
        await expectRejected("must be 1…10000 pixels") {
            _ = try await ThumbnailTask().run(ThumbnailInput(input: Samples.large, width: width, height: height, outputDir: out), context: makeContext(ThumbnailTask.name))
        }
    }
}
