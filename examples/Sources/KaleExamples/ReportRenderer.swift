import Foundation

/// Lays out a whole report: title block, text, chart, table and the optional simulation.
enum ReportRenderer {
    /// Renders `data` into a PDF at `path`.
    ///
    /// - Returns: the number of pages.
    /// - Throws: a retryable ``TaskFailure`` when the file cannot be written.
    static func render(_ data: ReportData, simulation: Simulation?, to path: String) throws -> Int {
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "d MMMM yyyy"
        let canvas = try PDFCanvas(path: path, title: data.title, creationDate: data.date, footer: data.title)

        // Title block.
        let title = canvas.layout(font: "DejaVu Sans Bold 22", width: canvas.width)
        title.setText(data.title)
        title.draw(x: canvas.left, y: canvas.y)
        canvas.y += title.height + 4
        let sub = canvas.layout(font: "DejaVu Sans 10", width: canvas.width)
        sub.setText([data.subtitle, day.string(from: data.date)].compactMap { $0 }.joined(separator: " · "))
        canvas.setColor(0.4, 0.4, 0.4)
        sub.draw(x: canvas.left, y: canvas.y)
        canvas.setColor(0, 0, 0)
        canvas.y += sub.height + 18

        for text in data.paragraphs { canvas.paragraph(text) }

        if !data.bars.isEmpty {
            canvas.y += 6
            canvas.heading(data.chartTitle.prefix(1).uppercased() + data.chartTitle.dropFirst(), keepWith: BarChart.height(bars: data.bars.count))
            BarChart.horizontal(data.bars, on: canvas)
            canvas.y += 6
            canvas.heading("Data (\(data.cells.count) rows)")
            ReportTable.draw(columns: data.columns, cells: data.cells, numeric: data.numeric, on: canvas)
        }

        if let simulation {
            canvas.y += 6
            canvas.heading("Simulation", keepWith: 200)
            canvas.paragraph("""
                Final positions of \(simulation.walks) random walks of \(Simulation.steps) steps each, \
                simulated in \(Int(simulation.cpuMilliseconds)) ms of CPU time. The spread follows the \
                normal distribution with a standard deviation of about \(Int(Double(Simulation.steps).squareRoot())) steps.
                """)
            BarChart.histogram(simulation.histogram, on: canvas)
        }
        return try canvas.finish()
    }
}
