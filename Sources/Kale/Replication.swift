public import KaleRedis

/// How many replicas must hold a write before Kale reports it done: `WAIT replicas timeout`
/// after the write, on the same connection.
///
/// Redis replicates asynchronously. Without this, an enqueue that returned may still be only
/// in the master's memory; if the master dies in the next milliseconds, Sentinel promotes a
/// replica that never saw the task, and it is gone although the producer was told yes. With
/// it, an enqueue returns only once `replicas` replicas have the task, so it survives the
/// master's loss (docs/high-availability.md). It costs one replication round trip per
/// enqueue (or per batch), and a write that was not acknowledged in time throws
/// ``KaleError`` `.notReplicated`: the task was written and may well run, but is not promised.
public struct Replication: Sendable, Hashable {
    /// Replicas that must acknowledge; at least 1.
    public var replicas: Int
    /// How long to wait for them. Default 1 s.
    public var timeout: Duration

    public init(replicas: Int, timeout: Duration = .seconds(1)) {
        precondition(replicas >= 1, "replicated writes wait for at least one replica")
        precondition(timeout >= .milliseconds(1), "a WAIT of 0 ms would wait for ever")
        self.replicas = replicas
        self.timeout = timeout
    }

    /// The `WAIT` that follows the write. The connection waits on the socket for longer than
    /// the server does, as for any blocking command.
    public var command: RedisCommand {
        .blocking(timeout, "WAIT", arguments: [replicas, timeout.milliseconds])
    }

    /// How many replicas acknowledged, from WAIT's reply; throws when fewer than asked.
    ///
    /// - Throws: ``KaleError`` `.notReplicated`, also when WAIT itself was refused (an ACL
    ///   without it, a blocked WAIT released by a failover): the tasks were written all the
    ///   same, and `batch` says which.
    func check(_ reply: RedisReply, what: String, queue: String?, batch: [KaleClient.TaskRef?]? = nil) throws {
        if case .error(let message) = reply {
            throw KaleError(.notReplicated, detail: "\(what) was written to the master, but WAIT failed: \(message)", queue: queue, batch: batch)
        }
        let acked = reply.int ?? 0
        guard acked >= replicas else {
            throw KaleError(
                .notReplicated,
                detail: "\(what) was written to the master but only \(acked) of \(replicas) replica(s) acknowledged it within \(timeout); "
                    + "it may be lost if the master fails now (enqueue it again with the same id to be sure)",
                queue: queue, batch: batch)
        }
    }
}
