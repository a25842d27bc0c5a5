import ArgumentParser
import Foundation
import Hummingbird
import Kale
import KaleRedis
import Logging
import ReportAPI

/// `ReportService`: the HTTP producer of the examples.
///
/// Enqueues `reports.pdf` and `images.thumbnail` tasks for an `ExampleWorker` to run and
/// reports their state. SIGTERM or SIGINT stop it gracefully: it stops accepting
/// connections and finishes the requests in flight (Hummingbird's service lifecycle).
@main
struct ReportServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ReportService",
        abstract: "HTTP API that enqueues report and thumbnail tasks.",
        discussion: """
        POST /reports, POST /thumbnails → 202 {"id": …}; GET /tasks/{id} → state and result.
        Redis comes from --redis, else KALE_REDIS_URL, else redis://127.0.0.1:6379.
        """
    )

    @Option(help: ArgumentHelp("Redis URL.", valueName: "url"))
    var redis: String?

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(help: "Key prefix of the Kale installation.")
    var prefix = "kale"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ReportService")
        let urlText = redis ?? ProcessInfo.processInfo.environment[RedisURL.environmentKey] ?? RedisURL.fallback
        let url: RedisURL
        do { url = try RedisURL(parsing: urlText) }
        catch { throw ValidationError("--redis: \(error)") }

        // Enough connections that a burst of requests never queues behind one round trip.
        var redisConfig = RedisConfiguration(url: url, poolSize: 8)
        redisConfig.clientName = "kale-report-service"
        let client = KaleClient(configuration: KaleConfiguration(redis: redisConfig, keys: Keys(prefix: prefix)))
        defer { client.close() }

        let app = ReportAPI.application(
            client: client,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "kale-report-service"),
            logger: logger)
        logger.info("report service starting", metadata: ["redis": "\(url)", "port": "\(port)"])
        try await app.runService()
        logger.info("report service stopped")
    }
}
