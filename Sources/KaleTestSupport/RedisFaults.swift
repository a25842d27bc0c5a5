import Foundation
import KaleRedis

extension RedisServer {
    /// Makes the server answer `-BUSY` to every other client for about `duration`, the way a
    /// slow user script would: a Lua loop on TIME, with the busy threshold lowered to 50 ms.
    ///
    /// Returns once other clients get `-BUSY`; the script ends by itself.
    public func makeBusy(for duration: Duration) async throws {
        let setup = RedisConnection(configuration: configuration(poolSize: 1))
        _ = try setup.send(RedisCommand("CONFIG", "SET", "lua-time-limit", "50"))
        let ms = Int64(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        let script = """
        local function now() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 end
        local stop = now() + tonumber(ARGV[1])
        while now() < stop do end
        return 1
        """
        var config = configuration(poolSize: 1)
        config.commandTimeout = duration + .seconds(5)
        // The connection is made on the thread that uses it: a connection is not Sendable.
        let busyConfig = config
        let thread = Thread {
            let busy = RedisConnection(configuration: busyConfig)
            _ = try? busy.send(RedisCommand("EVAL", script, "0", String(ms)))
        }
        thread.name = "kale-test-busy"
        thread.start()
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            do { _ = try setup.send(RedisCommand("PING")) } catch let e as RedisError where e.serverCode == "BUSY" { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw RedisError(.timeout, detail: "the server did not become busy")
    }
}
