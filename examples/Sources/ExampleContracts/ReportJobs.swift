public import Kale

/// Input of `reports.pdf`: a title, text, and rows that become a bar chart and a table.
///
/// ```json
/// {"title": "Sales 2025", "paragraphs": ["…"],
///  "rows": [{"label": "North", "value": 120, "region": "EU"}, …]}
/// ```
public struct ReportInput: Codable, Sendable, Hashable {
    /// The report's title, 1…200 characters; also the PDF's title and its file name.
    public var title: String
    /// A line under the title, before the date.
    public var subtitle: String?
    /// Body text, one entry per paragraph; wrapped to the page width.
    public var paragraphs: [String]?
    /// Table rows: JSON objects. Each needs a string at the chart's label key and a number
    /// at its value key; other keys become extra table columns. At most 5,000 rows.
    public var rows: [JSONValue]?
    /// Table columns in order. Default: the label key, the value key, then every other key
    /// of the first row in alphabetical order.
    public var columns: [String]?
    /// Which keys the bar chart plots.
    public var chart: ChartSpec?
    /// The report's date (ISO 8601, e.g. `2025-06-30` or `2025-06-30T12:00:00Z`), printed
    /// under the title and stored as the PDF's creation date: the same input then gives a
    /// byte-identical file, even when a retry renders it again. Default: now.
    public var date: String?
    /// Load knob for benchmarks: spend this many milliseconds of CPU time on a Monte Carlo
    /// simulation whose histogram is charted in an extra section. 0…60,000; default 0.
    public var cpuMs: Int?
    /// Where to write; default the worker's output directory.
    public var outputDir: String?

    /// Creates a report request; unset fields take the defaults documented on each property.
    public init(title: String, subtitle: String? = nil, paragraphs: [String]? = nil, rows: [JSONValue]? = nil,
                columns: [String]? = nil, chart: ChartSpec? = nil, date: String? = nil, cpuMs: Int? = nil, outputDir: String? = nil) {
        self.title = title
        self.subtitle = subtitle
        self.paragraphs = paragraphs
        self.rows = rows
        self.columns = columns
        self.chart = chart
        self.date = date
        self.cpuMs = cpuMs
        self.outputDir = outputDir
    }

    enum CodingKeys: String, CodingKey {
        case title, subtitle, paragraphs, rows, columns, chart, date
        case cpuMs = "cpu_ms"
        case outputDir = "output_dir"
    }
}

/// Which row keys the report's bar chart plots.
public struct ChartSpec: Codable, Sendable, Hashable {
    /// The key holding each bar's label (a string). Default `label`.
    public var label: String?
    /// The key holding each bar's value (a number). Default `value`.
    public var value: String?
    /// The chart's heading. Default "<value> by <label>".
    public var title: String?

    /// Creates a chart specification.
    public init(label: String? = nil, value: String? = nil, title: String? = nil) {
        self.label = label
        self.value = value
        self.title = title
    }
}

/// Output of `reports.pdf`.
public struct ReportOutput: Codable, Sendable, Hashable {
    /// Absolute path of the PDF written.
    public var output: String
    /// Number of pages.
    public var pages: Int
    /// Size of the file in bytes.
    public var bytes: Int

    /// Creates the result of `reports.pdf`.
    public init(output: String, pages: Int, bytes: Int) {
        self.output = output
        self.pages = pages
        self.bytes = bytes
    }
}

/// Input of `reports.preview`: `{"input": "/data/report.pdf", "page": 2, "width": 800}`.
public struct PreviewInput: Codable, Sendable, Hashable {
    /// Path of any PDF.
    public var input: String
    /// 1-based page number. Default 1.
    public var page: Int?
    /// Width of the PNG in pixels, 16…4000; the height keeps the page's proportions. Default 800.
    public var width: Int?
    /// Where to write; default the worker's output directory.
    public var outputDir: String?

    /// Creates a preview request.
    public init(input: String, page: Int? = nil, width: Int? = nil, outputDir: String? = nil) {
        self.input = input
        self.page = page
        self.width = width
        self.outputDir = outputDir
    }

    enum CodingKeys: String, CodingKey {
        case input, page, width
        case outputDir = "output_dir"
    }
}

/// Output of `reports.preview`.
public struct PreviewOutput: Codable, Sendable, Hashable {
    /// Absolute path of the PNG written.
    public var output: String
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// Creates the result of `reports.preview`.
    public init(output: String, width: Int, height: Int) {
        self.output = output
        self.width = width
        self.height = height
    }
}

/// Input of `reports.text`: `{"input": "/data/report.pdf"}`.
public struct TextInput: Codable, Sendable, Hashable {
    /// Path of any PDF.
    public var input: String

    /// Creates a text extraction request.
    public init(input: String) { self.input = input }
}

/// Output of `reports.text`.
public struct TextOutput: Codable, Sendable, Hashable {
    /// The text of every page, pages separated by a form feed (U+000C).
    public var text: String
    /// Number of pages.
    public var pages: Int

    /// Creates the result of `reports.text`.
    public init(text: String, pages: Int) {
        self.text = text
        self.pages = pages
    }
}
