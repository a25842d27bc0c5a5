import ExampleContracts
import Foundation
import Kale
import KaleExamples
import KaleRedis
import KaleTestSupport
import Testing

/// The tasks as they really run: enqueued through Redis, executed by `ExampleWorker` in its
/// pool children.
@Suite struct WorkerProcessTests {
    @Test func goodTasksSucceedAndBadOnesAreDeadLetteredWhileTheWorkerKeepsServing() async throws {
        let fixture = KaleFixture()
        let out = temporaryDirectory()
        let worker = try ExampleWorkerProcess(fixture: fixture, outputDirectory: out)
        try await worker.waitUntilReady(fixture)
        let client = fixture.client
        let corrupt = out + "/corrupt.png"
        try Data("this is not a PNG".utf8).write(to: URL(fileURLWithPath: corrupt))

        // (task, args, expected fragment of the rejection)
        let bad: [(String, JSONValue, String)] = [
            (TaskNames.thumbnail, .object(["input": .string("/nonexistent.jpg"), "width": .number(100)]), "input file not found"),
            (TaskNames.thumbnail, .object(["input": .string(corrupt), "width": .number(100)]), "as an image"),
            (TaskNames.thumbnail, .object(["input": .string(Samples.large), "width": .number(100), "format": .string("gif2")]), "unknown image format"),
            (TaskNames.thumbnail, .object(["input": .string(Samples.large), "width": .number(999_999)]), "must be 1…10000 pixels"),
            (TaskNames.thumbnail, .object(["input": .string(Samples.large), "width": .string("wide")]), "does not decode"),
            (TaskNames.report, .object(["title": .string("Bad rows"), "rows": .array([.object(["label": .string("a"), "value": .string("NaN")])])]), "'value' must be a number"),
            (TaskNames.preview, .object(["input": .string(Samples.png)]), "as a PDF"),
        ]
        var badIDs: [(String, String)] = []
        for (name, args, fragment) in bad {
            badIDs.append((try await client.enqueue(name: name, args: args).id, fragment))
        }
        let thumb = try await client.enqueue(ThumbnailTask.self, ThumbnailInput(input: Samples.large, width: 120))
        let pdf = try await client.enqueue(ReportTask.self, ReportInput(title: "From the worker", rows: ReportTaskTests.rows(30)))

        for (id, fragment) in badIDs {
            let info = try await client.wait(for: id, timeout: .seconds(60))
            #expect(info.state == .dead, "\(info.name) with bad input ends dead, not \(info.state)")
            #expect(info.attempt == 1, "rejected input is not retried")
            #expect(info.error?.kind == .rejected)
            #expect(info.error?.message.contains(fragment) == true, "error '\(info.error?.message ?? "none")' mentions '\(fragment)'")
        }
        let thumbnail = try await thumb.result(timeout: .seconds(60))
        #expect(thumbnail.width == 120 && thumbnail.height == 90)
        #expect(thumbnail.output.hasPrefix(out + "/thumbnails/"), "written to KALE_EXAMPLES_OUT")
        #expect(imageSize(thumbnail.output)?.width == 120)
        let report = try await pdf.result(timeout: .seconds(60))
        #expect(report.pages >= 1 && magic(report.output, count: 5) == Array("%PDF-".utf8))

        #expect(worker.isRunning, "bad input never takes the worker down; log:\n\(worker.log)")
        let dead = try await fixture.redis.send("ZCARD", fixture.keys.dead("default")).int
        #expect(dead == bad.count)
        await worker.stop()
        #expect(!worker.isRunning)
    }
}
