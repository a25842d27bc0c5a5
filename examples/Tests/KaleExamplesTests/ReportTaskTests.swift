import ExampleContracts
import Foundation
import Glibc
import Kale
import KaleExamples
import Testing

@Suite struct ReportTaskTests {
    let out = temporaryDirectory()

    static func rows(_ count: Int) -> [JSONValue] {
        (0..<count).map { i in
            .object(["label": .string("Region \(i)"), "value": .number(Double(i * 37 % 500) - 50), "owner": .string("team \(i % 7)")])
        }
    }

    func report(_ input: ReportInput) async throws -> ReportOutput {
        try await ReportTask().run(input, context: makeContext(ReportTask.name))
    }

    func text(of path: String) async throws -> TextOutput {
        try await TextTask().run(TextInput(input: path), context: makeContext(TextTask.name))
    }

    @Test func reportHasTitleTextChartAndTableOnSeveralPages() async throws {
        let input = ReportInput(
            title: "Quarterly Numbers", subtitle: "Test subtitle",
            paragraphs: ["First paragraph about the numbers.", String(repeating: "Long text wraps at the margin. ", count: 200)],
            rows: Self.rows(150), date: "2025-06-30", outputDir: out)
        let result = try await report(input)
        #expect(magic(result.output, count: 5) == Array("%PDF-".utf8))
        #expect(result.pages >= 4, "150 table rows and long text need several pages, got \(result.pages)")

        let extracted = try await text(of: result.output)
        #expect(extracted.pages == result.pages, "poppler counts the pages the renderer wrote")
        let pages = extracted.text.split(separator: "\u{0C}", omittingEmptySubsequences: false)
        #expect(pages.count == result.pages)
        #expect(pages[0].contains("Quarterly Numbers") && pages[0].contains("30 June 2025"))
        #expect(extracted.text.contains("Value by label"), "the chart's heading")
        #expect(extracted.text.contains("Region 0") && extracted.text.contains("Region 149"), "first and last table rows")
        #expect(extracted.text.contains("team 6"), "extra keys become columns")
        #expect(extracted.text.contains("page \(result.pages)"), "every page has its footer")
    }

    @Test func sameInputWithAFixedDateGivesTheSameBytes() async throws {
        let input = ReportInput(title: "Stable", rows: Self.rows(20), date: "2025-01-02T03:04:05Z", outputDir: out)
        let a = try await report(input)
        let b = try await report(input)
        #expect(a.output != b.output)
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.output)) == Data(contentsOf: URL(fileURLWithPath: b.output)))
    }

    @Test func cpuKnobSpendsThatMuchCPUAndChartsTheSimulation() async throws {
        let before = clock()
        let result = try await report(ReportInput(title: "Load", cpuMs: 300, outputDir: out))
        let spent = Double(clock() - before) / Double(CLOCKS_PER_SEC)
        #expect(spent >= 0.3, "spent \(spent) s of CPU")
        #expect(try await text(of: result.output).text.contains("random walks"))
    }

    @Test func cancellationStopsTheSimulation() async throws {
        let context = makeContext(ReportTask.name)
        let run = Task { try await ReportTask().run(ReportInput(title: "Long", cpuMs: 30_000, outputDir: out), context: context) }
        try await Task.sleep(for: .milliseconds(200))
        let asked = ContinuousClock.now
        context.requestStop(.softTimeLimit)
        await #expect(throws: TaskFailure.self) { try await run.value }
        #expect(ContinuousClock.now - asked < .seconds(2), "stops promptly, not after 30 s")
    }

    @Test func previewRendersAPageToPNG() async throws {
        let pdf = try await report(ReportInput(title: "Preview me", rows: Self.rows(120), outputDir: out))
        let preview = try await PreviewTask().run(PreviewInput(input: pdf.output, page: 2, width: 400, outputDir: out), context: makeContext(PreviewTask.name))
        #expect(magic(preview.output) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let decoded = try #require(imageSize(preview.output))
        #expect(decoded.width == 400 && decoded.height == 566, "A4 proportions: got \(decoded)")
        #expect(preview.width == decoded.width && preview.height == decoded.height)
    }

    // MARK: Bad input

    @Test func malformedRowsAreRejectedNamingTheRow() async {
        func rejected(_ rows: [JSONValue], _ fragment: String) async {
            await expectRejected(fragment) { _ = try await report(ReportInput(title: "Bad", rows: rows, outputDir: out)) }
        }
        await rejected([.object(["label": .string("a"), "value": .number(1)]), .number(3)], "row 2 is a number, not an object")
        await rejected([.object(["value": .number(1)])], "row 1 has no 'label'")
        await rejected([.object(["label": .string("a"), "value": .string("12")])], "row 1: 'value' must be a number, not the string \"12\"")
        await rejected([.object(["label": .string("a")])], "row 1: 'value' must be a number, not missing")
        await rejected([.object(["label": .bool(true), "value": .number(1)])], "'label' must be a string")
        await rejected(Self.rows(5_001), "at most 5000 rows")
    }

    @Test func otherBadReportFieldsAreRejected() async {
        await expectRejected("title must be") { _ = try await report(ReportInput(title: "  ", outputDir: out)) }
        await expectRejected("cpu_ms must be") { _ = try await report(ReportInput(title: "x", cpuMs: -1, outputDir: out)) }
        await expectRejected("not ISO 8601") { _ = try await report(ReportInput(title: "x", date: "yesterday", outputDir: out)) }
        await expectRejected("at most 12 columns") {
            _ = try await report(ReportInput(title: "x", columns: (0..<13).map { "c\($0)" }, outputDir: out))
        }
    }

    @Test func previewOfMissingPageOrBadWidthIsRejected() async throws {
        let pdf = try await report(ReportInput(title: "One page", outputDir: out))
        #expect(pdf.pages == 1)
        await expectRejected("page 2 does not exist") {
            _ = try await PreviewTask().run(PreviewInput(input: pdf.output, page: 2, outputDir: out), context: makeContext(PreviewTask.name))
        }
        await expectRejected("page 0 does not exist") {
            _ = try await PreviewTask().run(PreviewInput(input: pdf.output, page: 0, outputDir: out), context: makeContext(PreviewTask.name))
        }
        await expectRejected("width must be 16…4000") {
            _ = try await PreviewTask().run(PreviewInput(input: pdf.output, width: 100_000, outputDir: out), context: makeContext(PreviewTask.name))
        }
    }

    @Test func nonPDFInputIsRejected() async {
        await expectRejected("as a PDF") {
            _ = try await PreviewTask().run(PreviewInput(input: Samples.large, outputDir: out), context: makeContext(PreviewTask.name))
        }
        await expectRejected("as a PDF") { _ = try await text(of: Samples.png) }
        await expectRejected("input file not found") { _ = try await text(of: out + "/missing.pdf") }
    }
}

@Suite struct ReportInputTests {
    @Test func argumentsEqualTheEncodedInput() throws {
        let full = ReportInput(
            title: "T", subtitle: "S", paragraphs: ["p"], rows: ReportTaskTests.rows(3), columns: ["label", "value"],
            chart: ChartSpec(label: "label", value: "value", title: "C"), date: "2025-01-01", cpuMs: 5, outputDir: "/tmp/x")
        #expect(full.arguments == (try JSONValue(encoding: full)))
        let minimal = ReportInput(title: "only a title")
        #expect(minimal.arguments == (try JSONValue(encoding: minimal)))
        let partialChart = ReportInput(title: "x", chart: ChartSpec(value: "v"))
        #expect(partialChart.arguments == (try JSONValue(encoding: partialChart)))
    }
}
