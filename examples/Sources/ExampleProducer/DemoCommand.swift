import ArgumentParser
import ExampleContracts
import Foundation
import Kale
import KaleExamples
import KaleRedis

/// `ExampleProducer demo`: enqueues thumbnails of the sample images and a few reports,
/// shows progress until every task has ended, and prints where the outputs are.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Enqueue thumbnails and reports, follow them, and print where the outputs are.",
        discussion: "Needs an ExampleWorker serving the same Redis and prefix."
    )

    @Option(help: ArgumentHelp("Redis URL (default: KALE_REDIS_URL, else redis://127.0.0.1:6379).", valueName: "url"))
    var redis: String?

    @Option(help: "Key prefix of the Kale installation.")
    var prefix = "kale"

    @Option(help: "Directory of the sample images (drawn when missing).")
    var samples = "examples/out/samples"

    @Option(help: "Directory the worker writes outputs into.")
    var out = "examples/out"

    @Option(help: "Number of PDF reports.")
    var reports = 3

    @Option(name: .customLong("cpu-ms"), help: "CPU milliseconds each report's simulation costs (shows progress).")
    var cpuMs = 1500

    @Option(help: "Seconds to wait for all tasks.")
    var timeout = 300

    func run() async throws {
        let start = ContinuousClock.now
        let outDir = URL(fileURLWithPath: out).standardizedFileURL.path
        let images = try SampleImagesRunner.ensure(samples)
        let url = try RedisURL(parsing: redis ?? ProcessInfo.processInfo.environment[RedisURL.environmentKey] ?? RedisURL.fallback)
        let client = KaleClient(configuration: KaleConfiguration(redis: RedisConfiguration(url: url), keys: Keys(prefix: prefix)))
        defer { client.close() }
        _ = try await client.redis.send("PING")

        var jobs: [DemoJob] = []
        for image in images {
            let name = URL(fileURLWithPath: image).lastPathComponent
            let fit = try await client.enqueue(ThumbnailTask.self, ThumbnailInput(input: image, width: 320, outputDir: outDir))
            jobs.append(DemoJob(task: TaskNames.thumbnail, label: "\(name) → 320 px wide", id: fit.id, queue: fit.queue))
            let square = try await client.enqueue(
                ThumbnailTask.self, ThumbnailInput(input: image, width: 160, height: 160, crop: true, format: "webp", outputDir: outDir))
            jobs.append(DemoJob(task: TaskNames.thumbnail, label: "\(name) → 160×160 webp, cropped", id: square.id, queue: square.queue))
        }
        if let png = images.first(where: { $0.hasSuffix(".png") }) {
            let converted = try await client.enqueue(ConvertTask.self, ConvertInput(input: png, format: "webp", outputDir: outDir))
            jobs.append(DemoJob(task: TaskNames.convert, label: "\(URL(fileURLWithPath: png).lastPathComponent) → webp", id: converted.id, queue: converted.queue))
        }
        let titles = ["Quarterly operations report", "Regional sales review", "Returns analysis", "Capacity plan", "Annual summary"]
        for i in 0..<reports {
            let title = titles[i % titles.count] + (i >= titles.count ? " \(i / titles.count + 1)" : "")
            let rows = [48, 160, 600][i % 3]
            let handle = try await client.enqueue(ReportTask.self, DemoData.report(title: title, rows: rows, cpuMs: cpuMs, outputDir: outDir))
            jobs.append(DemoJob(task: TaskNames.report, label: "“\(title)”, \(rows) rows", id: handle.id, queue: handle.queue))
        }
        print("enqueued \(jobs.count) tasks (\(images.count * 2) thumbnails, \(jobs.count - images.count * 2 - reports) conversion, \(reports) reports); each report then gets a preview and a text extraction")

        let tracker = DemoTracker(client: client, outDir: outDir, timeout: .seconds(timeout))
        let failures = try await tracker.follow(jobs)
        let seconds = (ContinuousClock.now - start).seconds
        print("")
        print("outputs in \(outDir):")
        for sub in ["thumbnails", "converted", "reports", "previews"] {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(outDir)/\(sub)"))?.filter { !$0.hasPrefix(".") } ?? []
            print("  \(sub)/".padding(toLength: 16, withPad: " ", startingAt: 0) + "\(files.count) file(s)")
        }
        print(String(format: "done in %.1f s: %d task(s) succeeded, %d failed", seconds, tracker.finished - failures, failures))
        if failures > 0 { throw ExitCode(1) }
    }
}

/// One enqueued task as the demo shows it.
struct DemoJob: Sendable {
    var task: String
    var label: String
    var id: String
    var queue: String
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
