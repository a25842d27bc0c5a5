import CVips
import Foundation
import Kale
import KaleExamples
import Testing

/// A fresh directory under the system temp dir for one test's outputs.
func temporaryDirectory(_ function: String = #function) -> String {
    let name = function.prefix { $0 != "(" }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("kale-examples-\(name)-\(UUID().uuidString.prefix(8))").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The sample images, drawn once per test process.
enum Samples {
    static let directory: String = {
        let dir = temporaryDirectory("samples")
        _ = try! SampleImages.ensure(in: dir)
        return dir
    }()

    static var large: String { "\(directory)/sample-4000x3000.jpg" }
    static var portrait: String { "\(directory)/sample-3000x4000.jpg" }
    static var png: String { "\(directory)/sample-640x640.png" }
}

/// A context like the worker gives a task, for calling `run` directly.
func makeContext(_ name: String, id: String = UUID().uuidString.lowercased()) -> TaskContext {
    TaskContext(id: id, name: name, queue: "default", attempt: 1, maxRetries: 0, headers: [:], softDeadline: nil, progress: { _, _ in })
}

/// Runs `body` and checks it fails as rejected (not retryable) with `fragment` in its message.
func expectRejected(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected a rejection mentioning '\(fragment)', but the task succeeded", sourceLocation: sourceLocation)
    } catch let failure as TaskFailure {
        #expect(failure.kind == .rejected, "kind of \(failure)", sourceLocation: sourceLocation)
        #expect(!failure.retryable, "retryable: \(failure)", sourceLocation: sourceLocation)
        #expect(failure.message.contains(fragment), "message '\(failure.message)' should mention '\(fragment)'", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a TaskFailure, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
}

/// Decodes an image's header with libvips, independently of the task that wrote it.
func imageSize(_ path: String) -> (width: Int, height: Int, bands: Int)? {
    _ = vipsStarted
    var w: Int32 = 0, h: Int32 = 0, b: Int32 = 0
    guard cvips_probe(path, &w, &h, &b) == 0 else { return nil }
    return (Int(w), Int(h), Int(b))
}

private let vipsStarted: Bool = cvips_init("kale-examples-tests", 1) == 0

/// The first bytes of a file.
func magic(_ path: String, count: Int = 8) -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
    defer { try? handle.close() }
    return Array(handle.readData(ofLength: count))
}

/// Files in `dir` whose names start with a dot: left-over temporary files.
func hiddenFiles(in dir: String) -> [String] {
    let names = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String]) ?? []
    return names.filter { URL(fileURLWithPath: $0).lastPathComponent.hasPrefix(".") }
}
