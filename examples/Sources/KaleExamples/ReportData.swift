import ExampleContracts
import Foundation
import Kale

/// A report's input, checked and turned into what the renderer draws.
struct ReportData {
    var title: String
    var subtitle: String?
    var date: Date
    var paragraphs: [String]
    /// Table header and cell texts, row by row.
    var columns: [String]
    var cells: [[String]]
    /// Which columns hold numbers only (drawn right-aligned).
    var numeric: [Bool]
    var chartTitle: String
    var bars: [(label: String, value: Double)]
    var cpuMilliseconds: Int

    static let maxRows = 5_000
    static let maxColumns = 12
    static let maxParagraphs = 500
    static let maxParagraphLength = 20_000
    static let maxCPUMilliseconds = 60_000

    /// Checks `input` and prepares it for drawing.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` naming the first problem found (which row,
    ///   which key), since the same input would fail the same way on every retry.
    init(_ input: ReportInput, now: Date = Date()) throws {
        func reject(_ message: String) -> TaskFailure { TaskFailure.rejected(message, type: "InvalidReport") }
        title = input.title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !title.isEmpty, title.count <= 200 else { throw reject("title must be 1…200 characters") }
        subtitle = input.subtitle
        paragraphs = input.paragraphs ?? []
        guard paragraphs.count <= Self.maxParagraphs else { throw reject("at most \(Self.maxParagraphs) paragraphs, not \(paragraphs.count)") }
        if let i = paragraphs.firstIndex(where: { $0.count > Self.maxParagraphLength }) {
            throw reject("paragraph \(i + 1) is longer than \(Self.maxParagraphLength) characters")
        }
        cpuMilliseconds = input.cpuMs ?? 0
        guard (0...Self.maxCPUMilliseconds).contains(cpuMilliseconds) else {
            throw reject("cpu_ms must be 0…\(Self.maxCPUMilliseconds), not \(cpuMilliseconds)")
        }
        if let text = input.date {
            guard let parsed = ReportData.parseDate(text) else { throw reject("date '\(text)' is not ISO 8601 (2025-06-30 or 2025-06-30T12:00:00Z)") }
            date = parsed
        } else {
            date = now
        }

        let rows = input.rows ?? []
        guard rows.count <= Self.maxRows else { throw reject("at most \(Self.maxRows) rows, not \(rows.count)") }
        let labelKey = input.chart?.label ?? "label"
        let valueKey = input.chart?.value ?? "value"
        chartTitle = input.chart?.title ?? "\(valueKey) by \(labelKey)"
        var objects: [[String: JSONValue]] = []
        bars = []
        for (i, row) in rows.enumerated() {
            guard case .object(let fields) = row else { throw reject("row \(i + 1) is \(ReportData.kind(of: row)), not an object") }
            let label: String
            switch fields[labelKey] {
            case .string(let s)?: label = s
            case .number(let n)?: label = ReportData.format(n)
            case nil: throw reject("row \(i + 1) has no '\(labelKey)'")
            case let other?: throw reject("row \(i + 1): '\(labelKey)' must be a string, not \(ReportData.kind(of: other))")
            }
            guard case .number(let value)? = fields[valueKey] else {
                let found = fields[valueKey].map { ReportData.kind(of: $0) } ?? "missing"
                throw reject("row \(i + 1): '\(valueKey)' must be a number, not \(found)")
            }
            bars.append((label, value))
            objects.append(fields)
        }

        columns = input.columns ?? objects.first.map { first in
            [labelKey, valueKey] + first.keys.filter { $0 != labelKey && $0 != valueKey }.sorted()
        } ?? []
        guard columns.count <= Self.maxColumns else { throw reject("at most \(Self.maxColumns) columns, not \(columns.count)") }
        let columns = self.columns
        cells = objects.map { row in columns.map { row[$0].map(ReportData.cellText) ?? "" } }
        numeric = columns.map { key in
            !objects.isEmpty && objects.allSatisfy { row in
                if case .number? = row[key] { return true }
                return row[key] == nil
            }
        }
    }

    /// Accepts a date alone or a full timestamp.
    static func parseDate(_ text: String) -> Date? {
        let full = ISO8601DateFormatter()
        if let d = full.date(from: text) { return d }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text)
    }

    /// A number as a person reads it: no ".0" on whole numbers, two decimals otherwise.
    static func format(_ n: Double) -> String {
        if n.rounded() == n, abs(n) < 1e15 { return String(Int64(n)) }
        return String(format: "%.2f", n)
    }

    static func cellText(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .bool(let b): return b ? "yes" : "no"
        case .number(let n): return format(n)
        case .string(let s): return s
        case .array, .object: return value.jsonString
        }
    }

    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string(let s): return "the string \"\(s.prefix(40))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
