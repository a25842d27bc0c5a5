import Foundation
import Logging

/// A key prefix unique to one test, so tests run in parallel on one server without FLUSHDB.
public func testNamespace(_ function: String = #function) -> String {
    let name = function.prefix { $0 != "(" }
    return "t-\(name)-\(UUID().uuidString.prefix(8))"
}

/// Waits until `condition` holds, checking every 10 ms, for at most `timeout`.
///
/// - Returns: whether the condition held before the deadline.
@discardableResult
public func waitUntil(
    timeout: Duration = .seconds(10),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Test processes log warnings and worse only, unless `KALE_TEST_LOG_LEVEL` says otherwise:
/// thousands of tasks would otherwise drown the test report.
enum TestLogging {
    static let bootstrap: Void = {
        let level = ProcessInfo.processInfo.environment["KALE_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }()
}
