import CVips
import Foundation
import Kale

/// Swift's side of the CVips shim: starts libvips once and turns its errors into throws.
enum Vips {
    /// Why libvips failed, as it said it.
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// libvips's own threads per operation: `KALE_VIPS_THREADS`, default 1. A worker already
    /// runs one child per core, so more threads per child would only oversubscribe the CPU.
    static let threads = Int(ProcessInfo.processInfo.environment["KALE_VIPS_THREADS"] ?? "") ?? 1

    // A global's initialiser runs once, thread-safely, on first use.
    private static let started: Bool = cvips_init("kale-examples", Int32(threads)) == 0

    /// Starts libvips if it has not been started in this process.
    static func start() throws {
        guard started else { throw lastError("libvips failed to start") }
    }

    /// Width, height and bands of an image, reading its header only.
    static func probe(_ path: String) throws -> (width: Int, height: Int, bands: Int) {
        try start()
        var w: Int32 = 0, h: Int32 = 0, b: Int32 = 0
        guard cvips_probe(path, &w, &h, &b) == 0 else { throw lastError("cannot read image header") }
        return (Int(w), Int(h), Int(b))
    }

    /// Shrinks `input` into `output`; returns the size written.
    static func thumbnail(_ input: String, to output: String, width: Int, height: Int, crop: Bool) throws -> (width: Int, height: Int) {
        try start()
        var w: Int32 = 0, h: Int32 = 0
        guard cvips_thumbnail(input, output, Int32(width), Int32(height), crop ? 1 : 0, &w, &h) == 0 else {
            throw lastError("thumbnail failed")
        }
        return (Int(w), Int(h))
    }

    /// Re-encodes `input` as `output`'s format; returns the size written.
    static func convert(_ input: String, to output: String) throws -> (width: Int, height: Int) {
        try start()
        var w: Int32 = 0, h: Int32 = 0
        guard cvips_convert(input, output, &w, &h) == 0 else { throw lastError("conversion failed") }
        return (Int(w), Int(h))
    }

    /// Saves packed 8-bit pixels with `bands` channels.
    static func save(pixels: [UInt8], width: Int, height: Int, bands: Int, to output: String) throws {
        try start()
        precondition(pixels.count == width * height * bands, "pixel buffer does not match its size")
        let rc = pixels.withUnsafeBufferPointer { cvips_save_pixels($0.baseAddress, Int32(width), Int32(height), Int32(bands), output) }
        guard rc == 0 else { throw lastError("save failed") }
    }

    private static func lastError(_ fallback: String) -> Failure {
        var buffer = [CChar](repeating: 0, count: 2048)
        cvips_take_error(&buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "\n", with: "; ")
        return Failure(message: text.isEmpty ? fallback : text)
    }
}
