import CCairo

/// Draws charts onto a ``PDFCanvas``.
enum BarChart {
    /// Most bars one chart shows; the table still lists every row.
    static let maxBars = 40

    static let rowHeight = 15.0

    /// The height ``horizontal(_:on:)`` needs for `count` bars, without its footnote.
    static func height(bars count: Int) -> Double { Double(min(count, maxBars)) * rowHeight + 10 }

    /// Horizontal bars with their labels and values, scaled so zero is a vertical axis
    /// (negative values grow to the left of it).
    static func horizontal(_ bars: [(label: String, value: Double)], on canvas: PDFCanvas) {
        let shown = Array(bars.prefix(maxBars))
        guard !shown.isEmpty else { return }
        let labelWidth = 130.0, valueWidth = 60.0
        let plotLeft = canvas.left + labelWidth + 6
        let plotWidth = canvas.width - labelWidth - valueWidth - 12
        let low = min(0, shown.map(\.value).min()!)
        let high = max(0, shown.map(\.value).max()!)
        let span = high - low > 0 ? high - low : 1
        let zeroX = plotLeft + (-low / span) * plotWidth
        canvas.ensureSpace(height(bars: shown.count))

        let cr = canvas.cr
        let label = canvas.layout(font: "DejaVu Sans 8.5", width: labelWidth, align: PANGO_ALIGN_RIGHT, ellipsize: true)
        let value = canvas.layout(font: "DejaVu Sans 8", width: valueWidth)
        let top = canvas.y
        for (i, bar) in shown.enumerated() {
            let y = top + Double(i) * rowHeight
            let x = plotLeft + ((bar.value - low) / span) * plotWidth
            if bar.value < 0 { canvas.setColor(0.80, 0.33, 0.30) } else { canvas.setColor(0.25, 0.48, 0.75) }
            cairo_rectangle(cr, min(x, zeroX), y + 2, abs(x - zeroX), rowHeight - 4)
            cairo_fill(cr)
            canvas.setColor(0.15, 0.15, 0.15)
            label.setText(bar.label)
            label.draw(x: canvas.left, y: y + 1.5)
            value.setText(ReportData.format(bar.value))
            value.draw(x: max(x, zeroX) + 4, y: y + 2)
        }
        // The zero axis.
        canvas.setColor(0.3, 0.3, 0.3)
        cairo_set_line_width(cr, 0.8)
        cairo_move_to(cr, zeroX, top)
        cairo_line_to(cr, zeroX, top + Double(shown.count) * rowHeight)
        cairo_stroke(cr)
        canvas.setColor(0, 0, 0)
        canvas.y = top + Double(shown.count) * rowHeight + 8
        if bars.count > shown.count {
            canvas.paragraph("(The chart shows the first \(shown.count) of \(bars.count) rows.)", font: "DejaVu Sans Oblique 8")
        }
    }

    /// Vertical bars of equal width, for a histogram.
    static func histogram(_ counts: [Int], on canvas: PDFCanvas, height: Double = 160) {
        guard let peak = counts.max(), peak > 0 else { return }
        canvas.ensureSpace(height + 20)
        let cr = canvas.cr
        let barWidth = canvas.width / Double(counts.count)
        let base = canvas.y + height
        canvas.setColor(0.36, 0.62, 0.42)
        for (i, count) in counts.enumerated() {
            let h = Double(count) / Double(peak) * height
            cairo_rectangle(cr, canvas.left + Double(i) * barWidth + 0.5, base - h, barWidth - 1, h)
        }
        cairo_fill(cr)
        canvas.setColor(0.3, 0.3, 0.3)
        cairo_set_line_width(cr, 0.8)
        cairo_move_to(cr, canvas.left, base)
        cairo_line_to(cr, canvas.left + canvas.width, base)
        cairo_stroke(cr)
        canvas.setColor(0, 0, 0)
        canvas.y = base + 10
    }
}
