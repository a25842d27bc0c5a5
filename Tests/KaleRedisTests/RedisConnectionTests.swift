import Foundation
import KaleRedis
import KaleTestSupport
import Testing

/// The synchronous connection: wire safety, login, SELECT, timeouts and reconnects. Each
/// test drives its connection from a thread of its own (see `onThread`).
@Suite struct RedisConnectionTests {
    let shared = RedisServer.shared

    @Test func nulBytesRoundTripInKeysAndValues() async throws {
        let key = Array((testNamespace() + ":k\0ey").utf8)
        let value: [UInt8] = [0, 1, 0, 0, 255, 0, 10, 13, 0]
        let configuration = shared.configuration()
        let (got, length, field) = try await onThread { () -> ([UInt8]?, Int?, [UInt8]?) in
            let connection = RedisConnection(configuration: configuration)
            try connection.send(RedisCommand("SET", key, value))
            try connection.send(RedisCommand("HSET", key + [0x68], [UInt8]([0, 0x66]), value))
            defer { _ = try? connection.send(RedisCommand("DEL", key, key + [0x68])) }
            return (
                try connection.send(RedisCommand("GET", key)).bytes,
                try connection.send(RedisCommand("STRLEN", key)).int,
                try connection.send(RedisCommand("HGET", key + [0x68], [UInt8]([0, 0x66]))).bytes
            )
        }
        #expect(got == value)
        #expect(length == value.count)
        #expect(field == value)
    }

    @Test func serverErrorInPipelineLeavesOtherRepliesAndConnectionIntact() async throws {
        let key = testNamespace()
        let configuration = shared.configuration()
        let replies = try await onThread { () -> [RedisReply] in
            let connection = RedisConnection(configuration: configuration)
            defer { _ = try? connection.send(RedisCommand("DEL", key)) }
            var replies = try connection.execute([
                RedisCommand("SET", key, "text"), RedisCommand("INCR", key), RedisCommand("NOSUCHCOMMAND"),
                RedisCommand("GET", key),
            ])
            replies.append(try connection.send(RedisCommand("ECHO", "still usable")))
            return replies
        }
        #expect(replies.count == 5)
        #expect(replies[0] == .status("OK"))
        guard case .error(let notInteger) = replies[1], case .error(let unknown) = replies[2] else {
            Issue.record("expected two error replies, got \(replies)")
            return
        }
        #expect(notInteger.contains("not an integer"))
        #expect(unknown.lowercased().contains("unknown command"))
        #expect(replies[3].string == "text")
        #expect(replies[4].string == "still usable")
    }

    @Test func serverErrorIsThrownBySendWithServerCode() async throws {
        let configuration = shared.configuration()
        let error = await redisError {
            _ = try await onThread { try RedisConnection(configuration: configuration).send(RedisCommand("NOSUCHCOMMAND")) }
        }
        #expect(error?.code == .server)
        #expect(error?.isConnectionFailure == false)
    }

    @Test func urlDatabaseIsSelected() async throws {
        let key = testNamespace()
        var url = shared.url
        url.database = 3
        let onThree = quickConfiguration(url)
        let onZero = quickConfiguration(shared.url)
        let (inThree, inZero, clientDB) = try await onThread { () -> (String?, Int?, String?) in
            let three = RedisConnection(configuration: onThree)
            try three.send(RedisCommand("SET", key, "in three"))
            defer { _ = try? three.send(RedisCommand("DEL", key)) }
            let zero = RedisConnection(configuration: onZero)
            let info = try three.send(RedisCommand("CLIENT", "INFO")).string ?? ""
            let db = info.split(separator: " ").first { $0.hasPrefix("db=") }.map(String.init)
            return (try three.send(RedisCommand("GET", key)).string, try zero.send(RedisCommand("EXISTS", key)).int, db)
        }
        #expect(inThree == "in three")
        #expect(inZero == 0)
        #expect(clientDB == "db=3")
    }

    @Test func clientNameIsSet() async throws {
        var configuration = shared.configuration()
        let name = "kale-test-\(UUID().uuidString.prefix(8))"
        configuration.clientName = name
        var anonymous = configuration
        anonymous.clientName = nil
        let (named, unnamed) = (configuration, anonymous)
        let (got, none) = try await onThread {
            (
                try RedisConnection(configuration: named).send(RedisCommand("CLIENT", "GETNAME")).string,
                try RedisConnection(configuration: unnamed).send(RedisCommand("CLIENT", "GETNAME"))
            )
        }
        #expect(got == name)
        #expect(none == .null)
    }

    @Test(.enabled(if: !RedisServer.shared.directory.isEmpty, "needs a server this process started"))
    func unixSocketURLWorks() async throws {
        let key = testNamespace()
        let url = try RedisURL(parsing: "unix://\(shared.socketPath)?db=2")
        let viaSocket = quickConfiguration(url)
        let viaTCP = quickConfiguration(shared.url)
        let (got, address, onZero) = try await onThread { () -> (String?, String?, Int?) in
            let connection = RedisConnection(configuration: viaSocket)
            try connection.send(RedisCommand("SET", key, "over the socket"))
            defer { _ = try? connection.send(RedisCommand("DEL", key)) }
            let info = try connection.send(RedisCommand("CLIENT", "INFO")).string ?? ""
            let address = info.split(separator: " ").first { $0.hasPrefix("addr=") }.map(String.init)
            let zero = try RedisConnection(configuration: viaTCP).send(RedisCommand("EXISTS", key)).int
            return (try connection.send(RedisCommand("GET", key)).string, address, zero)
        }
        #expect(got == "over the socket")
        #expect(address?.contains("redis.sock") == true, "\(address ?? "no addr")")
        #expect(onZero == 0)
    }

    @Test func closedPortIsRefusedWithinConnectTimeout() async throws {
        let port = try closedPort()
        let configuration = quickConfiguration(RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port)), connectTimeout: .seconds(2))
        let start = ContinuousClock.now
        let error = await redisError {
            _ = try await onThread { try RedisConnection(configuration: configuration).send(RedisCommand("PING")) }
        }
        let elapsed = ContinuousClock.now - start
        #expect(error?.code == .connectionRefused)
        #expect(error?.isConnectionFailure == true)
        #expect(elapsed < .seconds(2), "refusal took \(elapsed)")
    }

    @Test func silentServerTimesOutAfterCommandTimeout() async throws {
        let listener = try SilentListener()
        let configuration = quickConfiguration(
            RedisURL(endpoint: .tcp(host: "127.0.0.1", port: listener.port)), commandTimeout: .milliseconds(300))
        let start = ContinuousClock.now
        let error = await redisError {
            _ = try await onThread { try RedisConnection(configuration: configuration).send(RedisCommand("PING")) }
        }
        let elapsed = ContinuousClock.now - start
        #expect(error?.code == .timeout)
        #expect(elapsed >= .milliseconds(250), "gave up after \(elapsed)")
        #expect(elapsed < .seconds(3), "gave up after \(elapsed)")
        withExtendedLifetime(listener) {}
    }

    @Test func blockingCommandMayOutlastCommandTimeout() async throws {
        let key = testNamespace()
        let configuration = quickConfiguration(shared.url, commandTimeout: .milliseconds(300))
        let start = ContinuousClock.now
        let (popped, after) = try await onThread {
            let connection = RedisConnection(configuration: configuration)
            let popped = try connection.send(.blocking(.seconds(1), "BLPOP", arguments: [key, 1]))
            return (popped, try connection.send(RedisCommand("ECHO", "after")).string)
        }
        #expect(popped == .null)
        #expect(ContinuousClock.now - start >= .milliseconds(900))
        #expect(after == "after")
    }
}
