import CCairo

/// Draws a table onto a ``PDFCanvas``, repeating the header on every page it spans.
enum ReportTable {
    static let rowHeight = 15.0

    static func draw(columns: [String], cells: [[String]], numeric: [Bool], on canvas: PDFCanvas) {
        guard !columns.isEmpty, !cells.isEmpty else { return }
        let widths = columnWidths(columns: columns, cells: cells, total: canvas.width)
        let body = zip(widths, numeric).map { w, isNumber in
            canvas.layout(font: "DejaVu Sans 8", width: w - 8, align: isNumber ? PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT, ellipsize: true)
        }
        let header = zip(widths, numeric).map { w, isNumber in
            canvas.layout(font: "DejaVu Sans Bold 8", width: w - 8, align: isNumber ? PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT, ellipsize: true)
        }

        func drawHeader() {
            canvas.setColor(0.86, 0.89, 0.93)
            cairo_rectangle(canvas.cr, canvas.left, canvas.y, canvas.width, rowHeight)
            cairo_fill(canvas.cr)
            canvas.setColor(0, 0, 0)
            drawRow(columns, layouts: header)
        }

        func drawRow(_ texts: [String], layouts: [TextLayout]) {
            var x = canvas.left
            for (i, text) in texts.enumerated() {
                layouts[i].setText(text)
                layouts[i].draw(x: x + 4, y: canvas.y + 2)
                x += widths[i]
            }
            canvas.y += rowHeight
        }

        canvas.ensureSpace(rowHeight * 3)
        drawHeader()
        for (index, row) in cells.enumerated() {
            if canvas.y + rowHeight > canvas.bottom {
                canvas.newPage()
                drawHeader()
            }
            if index % 2 == 1 {
                canvas.setColor(0.96, 0.96, 0.97)
                cairo_rectangle(canvas.cr, canvas.left, canvas.y, canvas.width, rowHeight)
                cairo_fill(canvas.cr)
                canvas.setColor(0, 0, 0)
            }
            drawRow(row, layouts: body)
        }
        canvas.setColor(0.6, 0.6, 0.6)
        cairo_set_line_width(canvas.cr, 0.6)
        cairo_move_to(canvas.cr, canvas.left, canvas.y)
        cairo_line_to(canvas.cr, canvas.left + canvas.width, canvas.y)
        cairo_stroke(canvas.cr)
        canvas.setColor(0, 0, 0)
        canvas.y += 10
    }

    /// Widths in proportion to each column's longest text (of the first 200 rows), each at
    /// least 40 points, together filling `total`.
    static func columnWidths(columns: [String], cells: [[String]], total: Double) -> [Double] {
        let sample = cells.prefix(200)
        let lengths = columns.indices.map { i in
            Double(max(columns[i].count, sample.map { $0[i].count }.max() ?? 0, 3))
        }
        let minimum = min(40, total / Double(columns.count))
        let spare = total - minimum * Double(columns.count)
        let sum = lengths.reduce(0, +)
        return lengths.map { minimum + spare * $0 / sum }
    }
}
