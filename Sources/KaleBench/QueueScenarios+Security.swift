import Foundation
import Kale
import KaleRedis
import KaleSealing
import KaleTestSupport

extension QueueScenarios {
    /// What signing, encryption and replicated enqueues cost: the same work with and without
    /// each, in interleaved runs on the same server.
    ///
    /// - The CPU of sealing one message (encode + HMAC, + AES-GCM when encrypted) and of
    ///   opening it (verify + decode, + decrypt), measured in this process over 20,000
    ///   messages, beside plain kale/1 encoding and decoding.
    /// - Batch enqueues and the end-to-end drain (process pool of 2) signed, and encrypted,
    ///   beside plain.
    /// - One-at-a-time enqueues that wait for one replica (WAIT 1), beside plain ones, on a
    ///   replica this run starts (skipped on a server given with --redis).
    func security(replicaOf server: RedisServer?) async throws -> [Figure] {
        let keys = "bench:" + Data((0..<32).map { UInt8($0 &* 7) }).base64EncodedString()
        let sealed = SealedFormat(keys: try SigningKeys(parsing: keys))
        var sealUS: [Double] = [], sealEncUS: [Double] = [], plainEncodeUS: [Double] = []
        var openUS: [Double] = [], openEncUS: [Double] = [], plainDecodeUS: [Double] = []
        var batchPlain: [Double] = [], batchSigned: [Double] = [], batchEncrypted: [Double] = []
        var drainPlain: [Double] = [], drainSigned: [Double] = [], drainEncrypted: [Double] = []
        var onePlain: [Double] = [], oneReplicated: [Double] = []
        let replica = try server.map { try RedisServer(options: ["--replicaof", "127.0.0.1", "\($0.port)"]) }
        defer { replica?.kill() }
        for run in 1...runs {
            progress("security run \(run)/\(runs)")
            let (se, sx, pe, op, ox, pd) = try Self.sealingCPU(sealed)
            sealUS.append(se); sealEncUS.append(sx); plainEncodeUS.append(pe)
            openUS.append(op); openEncUS.append(ox); plainDecodeUS.append(pd)
            for mode in ["plain", "signed", "encrypted"] {
                let prefix = freshPrefix()
                let c = client(prefix, format: mode == "plain" ? nil : sealed)
                let options = EnqueueOptions(queue: "bench", encrypted: mode == "encrypted" ? true : nil)
                var ids: [String] = []
                let start = ContinuousClock.now
                for _ in 0..<(drain / 1000) {
                    ids += try await c.enqueueBatch(name: "kale.noop", args: Array(repeating: Self.args, count: 1000), options: options).map(\.id)
                }
                let batchRate = Double(ids.count) / (ContinuousClock.now - start).seconds
                let worker = try BenchWorker(url: url, prefix: prefix, concurrency: 2, prefetch: prefetch, pool: "process",
                                             arguments: ["--no-schedules"], environment: mode == "plain" ? [:] : ["KALE_SIGNING_KEYS": keys])
                try await worker.waitUntilReady(c)
                try await waitDrained(c)
                worker.stop()
                let drainRate = Double(ids.count) / (try await span(c, ids: ids)).seconds
                switch mode {
                case "signed": batchSigned.append(batchRate); drainSigned.append(drainRate)
                case "encrypted": batchEncrypted.append(batchRate); drainEncrypted.append(drainRate)
                default: batchPlain.append(batchRate); drainPlain.append(drainRate)
                }
                try await clean(prefix, c)
            }
            if replica != nil {
                let prefix = freshPrefix()
                let c = client(prefix)
                let n = enqueues / 4
                for replicated in [false, true] {
                    let options = EnqueueOptions(queue: "bench", replication: replicated ? Replication(replicas: 1, timeout: .seconds(5)) : nil)
                    _ = try await c.enqueue(name: "kale.noop", args: Self.args, options: options)
                    let t0 = ContinuousClock.now
                    for _ in 0..<n { _ = try await c.enqueue(name: "kale.noop", args: Self.args, options: options) }
                    let rate = Double(n) / (ContinuousClock.now - t0).seconds
                    if replicated { oneReplicated.append(rate) } else { onePlain.append(rate) }
                }
                try await clean(prefix, c)
            }
        }
        var figures = [
            Figure(name: "seal one message: encode + HMAC-SHA256", unit: "µs", ours: sealUS, reference: "kale/1 encode",
                   referenceRuns: plainEncodeUS, target: nil),
            Figure(name: "seal one message: encode + AES-GCM args + HMAC", unit: "µs", ours: sealEncUS, reference: "kale/1 encode",
                   referenceRuns: plainEncodeUS, target: nil),
            Figure(name: "open one message: verify + decode", unit: "µs", ours: openUS, reference: "kale/1 decode",
                   referenceRuns: plainDecodeUS, target: nil),
            Figure(name: "open one message: verify + decode + decrypt", unit: "µs", ours: openEncUS, reference: "kale/1 decode",
                   referenceRuns: plainDecodeUS, target: nil),
            Figure(name: "enqueueBatch 1000 per call, signed", unit: "ops/s", ours: batchSigned, reference: "unsigned",
                   referenceRuns: batchPlain, target: nil),
            Figure(name: "enqueueBatch 1000 per call, encrypted", unit: "ops/s", ours: batchEncrypted, reference: "unsigned",
                   referenceRuns: batchPlain, target: nil),
            Figure(name: "end to end, process pool of 2, signed", unit: "tasks/s", ours: drainSigned, reference: "unsigned",
                   referenceRuns: drainPlain, target: nil),
            Figure(name: "end to end, process pool of 2, encrypted", unit: "tasks/s", ours: drainEncrypted, reference: "unsigned",
                   referenceRuns: drainPlain, target: nil),
        ]
        if !oneReplicated.isEmpty {
            figures.append(Figure(name: "enqueue one at a time, replicated (WAIT 1, local replica)", unit: "ops/s", ours: oneReplicated,
                                  reference: "not replicated", referenceRuns: onePlain, target: nil))
        }
        return figures
    }

    /// Microseconds per message: (seal, seal encrypted, plain encode, open, open encrypted, plain decode).
    private static func sealingCPU(_ sealed: SealedFormat) throws -> (Double, Double, Double, Double, Double, Double) {
        let n = 20_000
        let plain = KaleJSONFormat()
        let envelope = Envelope(id: "bench-sealing-0000", name: "kale.noop", queue: "bench", args: args, enqueuedAt: Broker.now())
        var encrypted = envelope
        encrypted.encrypted = true
        func time(_ body: () throws -> Int) rethrows -> Double {
            let t0 = ContinuousClock.now
            let total = try body()
            // The byte count is printed nowhere but keeps the optimiser from dropping the work.
            if total == 0 { FileHandle.standardError.write(Data("no bytes\n".utf8)) }
            return (ContinuousClock.now - t0).seconds * 1_000_000 / Double(n)
        }
        let s = try time { var t = 0; for _ in 0..<n { t &+= try sealed.encode(envelope).count }; return t }
        let x = try time { var t = 0; for _ in 0..<n { t &+= try sealed.encode(encrypted).count }; return t }
        let e = try time { var t = 0; for _ in 0..<n { t &+= try plain.encode(envelope).count }; return t }
        let signedBytes = try sealed.encode(envelope), encryptedBytes = try sealed.encode(encrypted), plainBytes = try plain.encode(envelope)
        let o = try time { var t = 0; for _ in 0..<n { t &+= try sealed.decode(signedBytes).id.utf8.count }; return t }
        let ox = try time { var t = 0; for _ in 0..<n { t &+= (try sealed.decode(encryptedBytes).args.objectValue?.count ?? 0) + 1 }; return t }
        let d = try time { var t = 0; for _ in 0..<n { t &+= try plain.decode(plainBytes).id.utf8.count }; return t }
        return (s, x, e, o, ox, d)
    }
}
