import Foundation
import Glibc
import KaleRedis

extension ClusterDeployment {
    /// Moves `slot` and its keys from its owner to `target` by the migration protocol, done by
    /// hand rather than by `redis-cli` so that a test can keep clients running while the slot
    /// is half-migrated: `pauseBetweenBatches` after each `batch` keys, during which a key
    /// already moved is answered with `-ASK` by the source, and a multi-key command over keys
    /// on both sides with `-TRYAGAIN`. Returns once every node agrees that `target` owns it.
    public func moveSlot(_ slot: Int, to target: RedisServer, batch: Int = 10, pauseBetweenBatches: Duration = .zero) throws {
        guard let move = try beginMove(slot, to: target) else { return }
        try move.finish(batch: batch, pauseBetweenBatches: pauseBetweenBatches)
    }

    /// Starts moving `slot` to `target` (importing there, migrating on its owner) without
    /// moving a key, so a test can move the keys it chooses (``SlotMove/migrate(_:)``) and
    /// see what clients do meanwhile; nil if `target` owns the slot already.
    public func beginMove(_ slot: Int, to target: RedisServer) throws -> SlotMove? {
        let source = try owner(ofSlot: slot)
        guard source.port != target.port else { return nil }
        let sourceID = try nodeID(source), targetID = try nodeID(target)
        // Importing first: a migrating source sends clients to the target with -ASK, and a
        // target not yet importing would send them back with -MOVED.
        try ask(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", sourceID)
        try ask(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", targetID)
        return SlotMove(cluster: self, slot: slot, source: source, target: target, targetID: targetID)
    }

    /// A slot half-way from `source` to `target`, by the migration protocol.
    public struct SlotMove: Sendable {
        public let cluster: ClusterDeployment
        public let slot: Int
        public let source: RedisServer
        public let target: RedisServer
        let targetID: String

        /// Moves `keys` (all of the slot) to the target with one `MIGRATE`; throws its error
        /// (`BUSYKEY` when the target has a key of that name already).
        public func migrate(_ keys: [String]) throws {
            let connection = RedisConnection(configuration: RedisConfiguration(
                url: source.url, connectTimeout: .milliseconds(300), commandTimeout: .seconds(15), clientName: "kale-test"))
            let migrate: [any RedisArgument] = ["127.0.0.1", target.port, "", 0, 10_000] + ClusterDeployment.authentication(for: target.url)
            try connection.send(RedisCommand("MIGRATE", arguments: migrate + ["KEYS"] + keys))
        }

        /// Moves the slot's remaining keys, `batch` at a time with `pauseBetweenBatches` after
        /// each, gives the slot to the target, and returns once every node agrees.
        public func finish(batch: Int = 10, pauseBetweenBatches: Duration = .zero) throws {
            let connection = RedisConnection(configuration: RedisConfiguration(
                url: source.url, connectTimeout: .milliseconds(300), commandTimeout: .seconds(15), clientName: "kale-test"))
            while true {
                let keys = try connection.send(RedisCommand("CLUSTER", "GETKEYSINSLOT", slot, batch)).strings ?? []
                if keys.isEmpty { break }
                try migrate(keys)
                if pauseBetweenBatches > .zero { Thread.sleep(forTimeInterval: pauseBetweenBatches.seconds) }
            }
            // The target first, for the same reason: told first, the source would answer -MOVED
            // to a target that still only imports the slot, and so sends clients back. The other
            // masters learn it from gossip too, but only after a while.
            let others = try cluster.masters().filter { $0.port != source.port && $0.port != target.port }
            for node in [target, source] + others {
                try cluster.ask(node, "CLUSTER", "SETSLOT", slot, "NODE", targetID)
            }
            try cluster.waitUntilSettled()
        }
    }

    /// Moves `count` slots (with their keys) from `source` to `target` with
    /// `redis-cli --cluster reshard`, and returns once every node agrees on the new map.
    public func reshard(slots count: Int, from source: RedisServer, to target: RedisServer) throws {
        try Self.redisCLI([
            "--cluster", "reshard", "127.0.0.1:\(source.port)", "--cluster-from", try nodeID(source),
            "--cluster-to", try nodeID(target), "--cluster-slots", "\(count)", "--cluster-yes",
        ])
        try waitUntilSettled()
    }

    /// Kills `master` with SIGKILL, like a crash, and waits until one of its replicas has
    /// taken over and the cluster has settled without it; returns that replica.
    @discardableResult
    public func killMaster(_ master: RedisServer, timeout: Duration = .seconds(30)) throws -> RedisServer {
        let candidates = try replicas(of: master)
        guard !candidates.isEmpty else { throw RedisError(.unexpectedReply, detail: "port \(master.port) has no replica to take over") }
        master.kill()
        var promoted: RedisServer?
        try wait("no replica of port \(master.port) took over", timeout: timeout) { last in
            promoted = try candidates.first { try role($0).first?.string == "master" }
            guard promoted != nil else {
                last = "no replica of port \(master.port) says it is a master"
                return false
            }
            return try settled(&last)
        }
        return promoted!
    }

    /// `AUTH` or `AUTH2` arguments of `MIGRATE` for a server that requires them.
    static func authentication(for url: RedisURL) -> [any RedisArgument] {
        guard let password = url.password else { return [] }
        guard let user = url.user else { return ["AUTH", password] }
        return ["AUTH2", user, password]
    }

    /// Runs `redis-cli` (from PATH) and returns what it printed; throws with that output when
    /// it fails or is still running after `timeout`.
    @discardableResult
    static func redisCLI(_ arguments: [String], timeout: Duration = .seconds(30)) throws -> String {
        let search = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard let program = search.split(separator: ":").map({ "\($0)/redis-cli" }).first(where: FileManager.default.isExecutableFile)
        else { throw RedisError(.io, detail: "redis-cli is not on PATH (apt-get install redis-tools)") }
        // To a file, not a pipe: a pipe would have to be read while waiting, and a
        // `--cluster create` whose nodes never meet waits for them forever.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("kale-redis-cli-\(UUID().uuidString.prefix(8)).log").path
        guard FileManager.default.createFile(atPath: log, contents: nil), let output = FileHandle(forWritingAtPath: log) else {
            throw RedisError(.io, detail: "cannot create \(log)")
        }
        defer { try? FileManager.default.removeItem(atPath: log) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        do { try process.run() } catch {
            try? output.close()
            throw RedisError(.io, detail: "cannot run \(program): \(error)")
        }
        try? output.close()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let overran = process.isRunning
        if overran {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        // It colours its cluster reports even when writing to a file.
        let text = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").replacing(/\u{1B}\[[0-9;]*m/, with: "")
        guard !overran, process.terminationStatus == 0 else {
            let how = overran ? "was still running after \(timeout)" : "failed (status \(process.terminationStatus))"
            throw RedisError(overran ? .timeout : .io, detail: "redis-cli \(arguments.joined(separator: " ")) \(how): \(text.suffix(3000))")
        }
        return text
    }
}
