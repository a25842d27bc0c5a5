import Foundation
import KaleRedis

/// What `redis-benchmark -q --csv` reports for one test.
struct ReferenceResult {
    /// Requests per second.
    var rps: Double
    /// Latency percentiles in milliseconds.
    var p50: Double
    var p95: Double
    var p99: Double
}

/// Runs the `redis-benchmark` that ships with Redis against the same server, as the yardstick.
struct RedisBenchmarkTool {
    let path: String
    let url: RedisURL

    /// Finds `redis-benchmark` on PATH (or takes `path` as given).
    init(path: String?, url: RedisURL) throws {
        self.url = url
        if let path {
            self.path = path
            return
        }
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/local/bin").split(separator: ":")
        guard let found = directories.map({ "\($0)/redis-benchmark" }).first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw RedisError(.io, detail: "redis-benchmark is not on PATH (apt-get install redis-tools), or pass --redis-benchmark")
        }
        self.path = found
    }

    /// Runs `command` `requests` times from `clients` connections, `pipeline` per round trip.
    ///
    /// - Throws: when the tool fails or prints no CSV result (its output is in the error;
    ///   its arguments are not, since they may hold the password).
    /// `randomRange` (`-r`) replaces `__rand_int__` in the command with random numbers below it.
    func run(clients: Int, requests: Int, pipeline: Int, command: [String], randomRange: Int? = nil) throws -> ReferenceResult {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = try connectionArguments()
            + ["-c", "\(clients)", "-n", "\(requests)", "-P", "\(pipeline)", "-q", "--csv"]
            + (randomRange.map { ["-r", "\($0)"] } ?? []) + command
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0, let result = RedisBenchmarkTool.parse(text) else {
            throw RedisError(.unexpectedReply, detail: "redis-benchmark failed (status \(process.terminationStatus)): \(text.prefix(500))")
        }
        return result
    }

    /// Host, port or socket, credentials and database from the URL.
    private func connectionArguments() throws -> [String] {
        var args: [String]
        switch url.endpoint {
        case .tcp(let host, let port): args = ["-h", host, "-p", "\(port)"]
        case .unix(let path): args = ["-s", path]
        case .sentinel:
            throw RedisError(.invalidURL, detail: "redis-benchmark needs the master's own address, not a Sentinel URL")
        case .cluster(let nodes):
            // redis-benchmark --cluster finds the other masters from this one.
            guard let node = nodes.first else { throw RedisError(.invalidURL, detail: "a cluster URL without nodes") }
            args = ["-h", node.host, "-p", "\(node.port)", "--cluster"]
        }
        if let password = url.password { args += ["-a", password] }
        if let user = url.user { args += ["--user", user] }
        if url.database != 0 { args += ["--dbnum", "\(url.database)"] }
        return args
    }

    /// Reads the first result row of `-q --csv` output, by the header's column names.
    static func parse(_ text: String) -> ReferenceResult? {
        let rows = text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("\"") }.map { fields(String($0)) }
        guard let header = rows.first, header.first == "test", rows.count >= 2 else { return nil }
        let row = rows[1]
        func value(_ name: String) -> Double? {
            guard let i = header.firstIndex(of: name), i < row.count else { return nil }
            return Double(row[i])
        }
        guard let rps = value("rps"), let p50 = value("p50_latency_ms"), let p95 = value("p95_latency_ms"),
              let p99 = value("p99_latency_ms")
        else { return nil }
        return ReferenceResult(rps: rps, p50: p50, p95: p95, p99: p99)
    }

    /// Splits one CSV line; fields may be quoted, with `""` for a quote inside.
    static func fields(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var chars = line.makeIterator()
        while let c = chars.next() {
            if quoted {
                if c == "\"" {
                    // A doubled quote is a literal quote; a single one ends the field's quoting.
                    var lookahead = chars
                    if lookahead.next() == "\"" {
                        current.append("\"")
                        chars = lookahead
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        fields.append(current)
        return fields
    }
}
