import KaleRedis

extension Broker {
    /// Wins or renews the schedule leader's lease for `worker` (``Scripts/lead``).
    /// - Returns: the fencing token and whether it was won now (`true`) or renewed; or token 0
    ///   and how long the current holder's lease still runs (ms).
    public func lead(worker: String, lease: Duration) async throws -> (token: Int, detail: Int) {
        let reply = try await redis.run(Scripts.lead, keys: [keys.scheduleLeader, keys.scheduleFence],
                                        arguments: [worker, lease.milliseconds])
        let parts = reply.array ?? []
        return (parts.first?.int ?? 0, parts.count > 1 ? parts[1].int ?? 0 : 0)
    }

    /// Gives up the leader's lease that `worker` holds under `token` (``Scripts/abdicate``).
    public func abdicate(worker: String, token: Int) async throws {
        _ = try await redis.run(Scripts.abdicate, keys: [keys.scheduleLeader], arguments: [token, worker])
    }

    /// Raises the fencing counter to at least `token`, so the next leader's token is newer
    /// than every one a schedule has seen.
    public func raiseFence(to token: Int) async throws {
        _ = try await redis.run(Scripts.raiseFence, keys: [keys.scheduleFence], arguments: [token])
    }
}
