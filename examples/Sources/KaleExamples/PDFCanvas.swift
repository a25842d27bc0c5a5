import CCairo
import Foundation
import Kale

/// An A4 PDF being written with cairo, with a cursor that flows content onto new pages.
///
/// Text is laid out by pango (wrapping, fonts, ellipsis); cairo draws shapes. Units are
/// PDF points (1/72 inch).
final class PDFCanvas {
    static let pageWidth = 595.28
    static let pageHeight = 841.89
    static let margin = 56.0

    let surface: OpaquePointer
    let cr: OpaquePointer
    /// Where the next block starts, from the top of the page.
    var y = PDFCanvas.margin
    /// The current page number (1-based).
    private(set) var page = 1
    private let footer: String

    var left: Double { PDFCanvas.margin }
    var width: Double { PDFCanvas.pageWidth - 2 * PDFCanvas.margin }
    /// The lowest point content may reach; the footer sits below it.
    var bottom: Double { PDFCanvas.pageHeight - PDFCanvas.margin - 14 }

    /// Starts a PDF at `path`.
    ///
    /// - Parameters:
    ///   - creationDate: stored in the PDF instead of the current time, so the same input
    ///     renders to the same bytes.
    init(path: String, title: String, creationDate: Date, footer: String) throws {
        surface = cairo_pdf_surface_create(path, PDFCanvas.pageWidth, PDFCanvas.pageHeight)
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            let reason = String(cString: cairo_status_to_string(cairo_surface_status(surface)))
            cairo_surface_destroy(surface)
            throw TaskFailure(kind: .error, type: "OutputError", message: "cannot create \(path): \(reason)")
        }
        let stamp = ISO8601DateFormatter().string(from: creationDate)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "Kale examples (reports.pdf)")
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, stamp)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_MOD_DATE, stamp)
        cr = cairo_create(surface)
        self.footer = footer
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    /// Moves to a new page unless `height` more points fit on this one.
    func ensureSpace(_ height: Double) {
        if y + height > bottom { newPage() }
    }

    /// Ends the page (with its footer) and starts the next.
    func newPage() {
        drawFooter()
        cairo_show_page(cr)
        page += 1
        y = PDFCanvas.margin
    }

    /// Ends the last page and writes the file.
    ///
    /// - Returns: the number of pages.
    /// - Throws: a retryable ``TaskFailure`` when cairo could not write (disk full …).
    func finish() throws -> Int {
        drawFooter()
        cairo_show_page(cr)
        cairo_surface_finish(surface)
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw TaskFailure(kind: .error, type: "OutputError", message: "cannot write PDF: \(String(cString: cairo_status_to_string(status)))")
        }
        return page
    }

    func setColor(_ r: Double, _ g: Double, _ b: Double) { cairo_set_source_rgb(cr, r, g, b) }

    /// A pango layout for this canvas: `font` is a pango description ("DejaVu Sans Bold 12").
    func layout(font: String, width: Double? = nil, align: PangoAlignment = PANGO_ALIGN_LEFT, ellipsize: Bool = false) -> TextLayout {
        TextLayout(cr: cr, font: font, width: width, align: align, ellipsize: ellipsize)
    }

    /// Draws wrapped text at the cursor, continuing on new pages line by line.
    func paragraph(_ text: String, font: String = "DejaVu Serif 10.5", spaceAfter: Double = 8) {
        let layout = layout(font: font, width: width)
        layout.setText(text)
        layout.forEachLine { line, top, height, baseline in
            if y + height > bottom { newPage() }
            cairo_move_to(cr, left, y + (baseline - top))
            pango_cairo_show_layout_line(cr, line)
            y += height
        }
        y += spaceAfter
    }

    /// A heading that never ends up alone at the bottom of a page: it moves to the next
    /// page unless `keepWith` points of what follows fit below it.
    func heading(_ text: String, size: Double = 14, keepWith: Double = 60) {
        let layout = layout(font: "DejaVu Sans Bold \(size)", width: width)
        layout.setText(text)
        let h = layout.height
        ensureSpace(min(h + 6 + keepWith, bottom - PDFCanvas.margin))
        setColor(0.1, 0.2, 0.35)
        layout.draw(x: left, y: y)
        setColor(0, 0, 0)
        y += h + 6
    }

    private func drawFooter() {
        let layout = layout(font: "DejaVu Sans 8", width: width, align: PANGO_ALIGN_RIGHT)
        layout.setText("\(footer) · page \(page)")
        setColor(0.45, 0.45, 0.45)
        layout.draw(x: left, y: PDFCanvas.pageHeight - PDFCanvas.margin)
        setColor(0, 0, 0)
    }
}

/// A pango layout bound to a cairo context; freed with the object.
final class TextLayout {
    let raw: OpaquePointer
    private let cr: OpaquePointer

    init(cr: OpaquePointer, font: String, width: Double?, align: PangoAlignment, ellipsize: Bool) {
        self.cr = cr
        raw = pango_cairo_create_layout(cr)
        let description = pango_font_description_from_string(font)
        pango_layout_set_font_description(raw, description)
        pango_font_description_free(description)
        if let width {
            pango_layout_set_width(raw, Int32(width * Double(PANGO_SCALE)))
            pango_layout_set_wrap(raw, PANGO_WRAP_WORD_CHAR)
        }
        pango_layout_set_alignment(raw, align)
        if ellipsize {
            pango_layout_set_ellipsize(raw, PANGO_ELLIPSIZE_END)
            pango_layout_set_height(raw, -1)  // one line at most
        }
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(raw)) }

    /// Plain text, never markup: report text comes from users and must not be parsed.
    func setText(_ text: String) { pango_layout_set_text(raw, text, -1) }

    /// The laid-out height in points.
    var height: Double {
        var w: Int32 = 0, h: Int32 = 0
        pango_layout_get_pixel_size(raw, &w, &h)
        return Double(h)
    }

    /// Draws the whole layout with its top-left corner at (x, y).
    func draw(x: Double, y: Double) {
        cairo_move_to(cr, x, y)
        pango_cairo_show_layout(cr, raw)
    }

    /// Calls `body` for each line with the line's top, height and baseline in points,
    /// relative to the layout's top.
    func forEachLine(_ body: (UnsafeMutablePointer<PangoLayoutLine>, Double, Double, Double) -> Void) {
        let iter = pango_layout_get_iter(raw)
        defer { pango_layout_iter_free(iter) }
        let scale = Double(PANGO_SCALE)
        repeat {
            guard let line = pango_layout_iter_get_line_readonly(iter) else { continue }
            var logical = PangoRectangle()
            pango_layout_iter_get_line_extents(iter, nil, &logical)
            let baseline = Double(pango_layout_iter_get_baseline(iter)) / scale
            body(line, Double(logical.y) / scale, Double(logical.height) / scale, baseline)
        } while pango_layout_iter_next_line(iter) != 0
    }
}
