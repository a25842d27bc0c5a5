import CCairo
import CPoppler
import Foundation
import Kale

/// A PDF opened with poppler-glib, for reading text and rendering pages.
final class PDFDocument {
    private let document: OpaquePointer
    let path: String

    /// Opens the PDF at `path`.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` when poppler cannot parse it: a damaged or
    ///   non-PDF file stays so on every retry.
    init(path: String) throws {
        self.path = path
        var error: UnsafeMutablePointer<GError>?
        // poppler-glib takes a URI, not a path; glib escapes spaces and the like.
        guard let uri = g_filename_to_uri(path, nil, &error) else {
            throw TaskFailure.rejected("bad path \(path): \(PDFDocument.take(error))", type: "InvalidInput")
        }
        defer { g_free(uri) }
        guard let document = poppler_document_new_from_file(uri, nil, &error) else {
            throw TaskFailure.rejected("cannot read \(path) as a PDF: \(PDFDocument.take(error))", type: "UnreadablePDF")
        }
        self.document = document
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(document)) }

    var pageCount: Int { Int(poppler_document_get_n_pages(document)) }

    /// The text of page `index` (0-based).
    func text(page index: Int) -> String {
        guard let page = poppler_document_get_page(document, Int32(index)) else { return "" }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        guard let text = poppler_page_get_text(page) else { return "" }
        defer { g_free(text) }
        return String(cString: text)
    }

    /// Renders page `index` (0-based) `width` pixels wide to a PNG at `output`.
    ///
    /// - Returns: the PNG's size in pixels.
    func renderPNG(page index: Int, width: Int, to output: String) throws -> (width: Int, height: Int) {
        guard let page = poppler_document_get_page(document, Int32(index)) else {
            throw TaskFailure.rejected("page \(index + 1) of \(path) cannot be read", type: "UnreadablePDF")
        }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        var pageWidth = 0.0, pageHeight = 0.0
        poppler_page_get_size(page, &pageWidth, &pageHeight)
        guard pageWidth > 0, pageHeight > 0 else { throw TaskFailure.rejected("page \(index + 1) has no size", type: "UnreadablePDF") }
        let scale = Double(width) / pageWidth
        let height = max(1, Int((pageHeight * scale).rounded()))
        // A page 100 times taller than wide would make a huge bitmap; refuse it.
        guard height <= 20_000 else {
            throw TaskFailure.rejected("page \(index + 1) would render \(width)×\(height) px; too tall", type: "InvalidDimensions")
        }

        let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height))
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)
        defer { cairo_destroy(cr) }
        // poppler paints no background; PDF pages are white paper.
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_scale(cr, scale, scale)
        poppler_page_render(page, cr)
        cairo_surface_flush(surface)
        let status = cairo_surface_write_to_png(surface, output)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw TaskFailure(kind: .error, type: "OutputError", message: "cannot write \(output): \(String(cString: cairo_status_to_string(status)))")
        }
        return (width, height)
    }

    private static func take(_ error: UnsafeMutablePointer<GError>?) -> String {
        guard let error else { return "unknown error" }
        defer { g_error_free(error) }
        return error.pointee.message.map { String(cString: $0) } ?? "unknown error"
    }
}
