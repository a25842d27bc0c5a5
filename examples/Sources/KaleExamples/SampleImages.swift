import CCairo
import Foundation
import Kale

/// Draws the demo's sample photos, so the repository ships no binary images.
///
/// Each is a gradient with overlapping circles and its own size written on it: enough
/// detail for JPEG to work on, and easy to recognise in a thumbnail.
public enum SampleImages {
    /// The sizes drawn, from a 12-megapixel photo down to a small PNG with transparency.
    public static let sizes: [(width: Int, height: Int, format: String)] = [
        (4000, 3000, "jpg"), (3000, 4000, "jpg"), (1920, 1080, "jpg"), (1024, 768, "jpg"), (640, 640, "png"),
    ]

    /// Writes any missing sample into `directory` and returns every sample's path.
    ///
    /// - Throws: when the directory cannot be made or a file cannot be written.
    @discardableResult
    public static func ensure(in directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try sizes.map { size in
            let path = "\(directory)/sample-\(size.width)x\(size.height).\(size.format)"
            if !FileManager.default.fileExists(atPath: path) {
                try draw(width: size.width, height: size.height, alpha: size.format == "png", to: path)
            }
            return path
        }
    }

    /// Draws one sample; the format follows `path`'s suffix.
    public static func draw(width: Int, height: Int, alpha: Bool, to path: String) throws {
        let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height))
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)
        let w = Double(width), h = Double(height)

        if !alpha {
            let sky = cairo_pattern_create_linear(0, 0, w, h)
            cairo_pattern_add_color_stop_rgb(sky, 0, 0.12, 0.30, 0.52)
            cairo_pattern_add_color_stop_rgb(sky, 1, 0.85, 0.55, 0.30)
            cairo_set_source(cr, sky)
            cairo_paint(cr)
            cairo_pattern_destroy(sky)
        }
        // Deterministic "random" circles: the same file on every machine.
        var seed: UInt64 = UInt64(width * 31 + height)
        func next() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(seed >> 11) / Double(1 << 53)
        }
        for _ in 0..<40 {
            cairo_set_source_rgba(cr, next(), next(), next(), 0.35 + next() * 0.4)
            cairo_arc(cr, next() * w, next() * h, (0.03 + next() * 0.15) * min(w, h), 0, 2 * .pi)
            cairo_fill(cr)
        }
        let layout = pango_cairo_create_layout(cr)
        let font = pango_font_description_from_string("DejaVu Sans Bold \(Int(min(w, h) / 10))px")
        pango_layout_set_font_description(layout, font)
        pango_font_description_free(font)
        pango_layout_set_text(layout, "Kale \(width)×\(height)", -1)
        // White on the photo-like gradient; dark on the transparent sample, which viewers
        // usually show on white.
        if alpha { cairo_set_source_rgb(cr, 0.1, 0.1, 0.2) } else { cairo_set_source_rgb(cr, 1, 1, 1) }
        cairo_move_to(cr, w * 0.06, h * 0.06)
        pango_cairo_show_layout(cr, layout)
        g_object_unref(UnsafeMutableRawPointer(layout))
        cairo_destroy(cr)
        cairo_surface_flush(surface)

        let bands = alpha ? 4 : 3
        let pixels = unpack(surface: surface, width: width, height: height, bands: bands)
        _ = try OutputDirectory.writeAtomically(path) { temporary in
            try Vips.save(pixels: pixels, width: width, height: height, bands: bands, to: temporary)
        }
    }

    /// cairo's native-endian, premultiplied ARGB to packed RGB(A).
    private static func unpack(surface: OpaquePointer?, width: Int, height: Int, bands: Int) -> [UInt8] {
        let stride = Int(cairo_image_surface_get_stride(surface))
        let data = UnsafeRawPointer(cairo_image_surface_get_data(surface)!)
        return [UInt8](unsafeUninitializedCapacity: width * height * bands) { out, count in
            for y in 0..<height {
                let row = data.advanced(by: y * stride).assumingMemoryBound(to: UInt32.self)
                for x in 0..<width {
                    let p = row[x]
                    let a = p >> 24
                    var rgb = ((p >> 16) & 0xFF, (p >> 8) & 0xFF, p & 0xFF)
                    if a != 0 && a != 255 {  // undo premultiplication
                        rgb = (rgb.0 * 255 / a, rgb.1 * 255 / a, rgb.2 * 255 / a)
                    }
                    let o = (y * width + x) * bands
                    out[o] = UInt8(truncatingIfNeeded: rgb.0)
                    out[o + 1] = UInt8(truncatingIfNeeded: rgb.1)
                    out[o + 2] = UInt8(truncatingIfNeeded: rgb.2)
                    if bands == 4 { out[o + 3] = UInt8(truncatingIfNeeded: a) }
                }
            }
            count = width * height * bands
        }
    }
}
