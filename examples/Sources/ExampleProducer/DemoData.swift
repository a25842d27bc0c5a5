import ExampleContracts
import Foundation
import Kale

/// Made-up but plausible report content for the demo and the benchmarks.
enum DemoData {
    static let regions = ["North", "South", "East", "West", "Central", "Coast", "Highlands", "Islands"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static let paragraphs = [
        """
        This report was rendered by a Kale worker: the producer enqueued a reports.pdf task with \
        the rows below, a child process of the worker laid the pages out with pango, drew the \
        chart and the table with cairo, and wrote the PDF next to the other outputs.
        """,
        """
        Orders grew in every region over the quarter. The chart compares the order volume of \
        each region and month; the table lists every row with its revenue and return rate. \
        Long text like this paragraph wraps at the page margin and flows onto the next page \
        when it reaches the bottom, line by line, so no line is ever cut in half.
        """,
        """
        Figures are synthetic and deterministic: the same request renders the same document, \
        and with a fixed date the same bytes, which makes a retried task indistinguishable from \
        its first run.
        """,
    ]

    /// A report request with `rows` rows.
    static func report(title: String, rows: Int, cpuMs: Int = 0, outputDir: String? = nil) -> ReportInput {
        var data: [JSONValue] = []
        var seed: UInt64 = UInt64(rows) &+ 7
        for i in 0..<rows {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let region = regions[i % regions.count]
            let month = months[(i / regions.count) % months.count]
            let orders = 200 + Double((seed >> 33) % 1800)
            data.append(.object([
                "label": .string("\(region) \(month)"),
                "value": .number(orders),
                "revenue": .number((orders * 37.5).rounded()),
                "returns %": .number(Double((seed >> 20) % 90) / 10),
            ]))
        }
        return ReportInput(
            title: title, subtitle: "Orders by region and month", paragraphs: paragraphs, rows: data,
            columns: ["label", "value", "revenue", "returns %"],
            chart: ChartSpec(label: "label", value: "value", title: "Orders by region and month"),
            date: "2025-06-30", cpuMs: cpuMs > 0 ? cpuMs : nil, outputDir: outputDir)
    }

    static func reportJSON(title: String, rows: Int, cpuMs: Int) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(report(title: title, rows: rows, cpuMs: cpuMs)), as: UTF8.self)
    }
}
