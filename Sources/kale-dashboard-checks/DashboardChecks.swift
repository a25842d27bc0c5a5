import ArgumentParser
import Foundation
import Kale
import KaleCLI
import KaleDashboard
import KaleRedis
import KaleTestSupport

/// Checks of kale-full's in-process dashboard that need it linked: run by
/// scripts/test-dashboard.sh after the core suite, so the core test bundle never links
/// Hummingbird and NIO (decision 0019). Prints one `ok`/`FAIL` line per check; exits 1 when
/// one failed.
@main
struct DashboardChecks {
    static let task = "images.thumbnail"
    static let defaults = EnqueueOptions(queue: "images", priority: .high, maxRetries: 7, timeLimit: .seconds(5))

    static func main() async {
        var failed = 0
        func report(_ name: String, _ problems: [String]) {
            if problems.isEmpty { print("ok    \(name)") } else {
                failed += 1
                print("FAIL  \(name)")
                for p in problems { print("      \(p)") }
            }
        }
        report("kale-full dashboard --help fits 80 columns",
               HelpLayout.problems(path: "kale-full dashboard", command: DashboardCommand.self,
                                   text: DashboardCommand.helpMessage(columns: 80), columns: 80))
        do { report("POST /api/tasks applies the registered task's defaults; the request's fields win", try await enqueueDefaults()) }
        catch { report("POST /api/tasks applies the registered task's defaults", ["\(error)"]) }
        exit(failed == 0 ? 0 : 1)
    }

    /// A dashboard served by an executable that registers `images.thumbnail` with defaults:
    /// an enqueue through its API lands in the task's queue and priority with its time limit,
    /// and the request's `max_retries` wins over the default.
    static func enqueueDefaults() async throws -> [String] {
        let server = try RedisServer()
        defer { server.kill() }
        let prefix = testNamespace("dashboardChecks")
        let port = try RedisServer.freePort()
        let token = "defaults-check-token-0123456789"
        setenv(DashboardCommand.tokenVariable, token, 1)
        let registry = TaskRegistry()
        registry.register(TaskHandler(name: task, defaultOptions: defaults) { args, _ in args })
        let arguments = ["dashboard", "--port", String(port), "--redis", server.url.connectionString, "--prefix", prefix]
        // Unstructured: `main` never returns while the dashboard serves.
        Task { await KaleCLI.main(registry: registry, commands: [DashboardCommand.self], arguments: arguments) }
        let answer = try await post(#"{"name": "\#(task)", "max_retries": 1}"#, to: "http://127.0.0.1:\(port)/api/tasks", token: token)
        guard let id = answer["id"]?.stringValue else { return ["no id in the answer: \(answer)"] }
        var problems: [String] = []
        if answer["queue"]?.stringValue != "images" { problems.append("queue \(answer["queue"]?.stringValue ?? "none"), not images") }
        let client = KaleClient(configuration: KaleConfiguration(redis: server.configuration(), keys: Keys(prefix: prefix)))
        let pending = try await client.redis.send("LRANGE", Keys(prefix: prefix).pending("images", .high), 0, -1).strings ?? []
        if pending != [id] { problems.append("pending list of images/high holds \(pending), not [\(id)]") }
        guard let info = try await client.status(of: id, queue: "images"), let message = info.message else {
            return problems + ["no record of \(id)"]
        }
        if info.maxRetries != 1 { problems.append("max retries \(info.maxRetries): the request's 1 must win") }
        let envelope = try KaleJSONFormat().decode(Array(message.utf8))
        if envelope.timeLimitMs != 5_000 { problems.append("time limit \(String(describing: envelope.timeLimitMs)), not the default 5000 ms") }
        return problems
    }

    /// POSTs with curl, retrying while nothing listens yet; the parsed JSON answer.
    static func post(_ body: String, to url: String, token: String) async throws -> JSONValue {
        for _ in 0..<500 {
            let curl = Process()
            let out = Pipe()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            curl.arguments = ["curl", "-sf", "-X", "POST", "-H", "Authorization: Bearer \(token)",
                              "-H", "Content-Type: application/json", "-d", body, url]
            curl.standardOutput = out
            try curl.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            curl.waitUntilExit()
            // 7: could not connect, the server is not listening yet.
            if curl.terminationStatus == 7 {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            guard curl.terminationStatus == 0 else { throw BadAnswer("curl exited \(curl.terminationStatus)") }
            return try JSONValue(parsing: data)
        }
        throw BadAnswer("the dashboard never listened on \(url)")
    }

    struct BadAnswer: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
