public import Logging
import Synchronization

/// Shard channels (`SSUBSCRIBE`, Redis 7) on a Redis Cluster, each held on the master that
/// serves its slot.
///
/// A classic `PUBLISH` on a cluster is copied to every node over the cluster bus, so its cost
/// grows with the cluster; an `SPUBLISH` reaches only the shard of its channel's slot, and a
/// script can publish on a channel in its own keys' slot (Kale's done channels carry the
/// queue's hash tag). The price is that the subscriber must follow the slot: this holds one
/// ``RedisSubscriber`` per master and puts each channel on the master of its slot, as the
/// ``ClusterMap`` says.
///
/// When a channel stops being served there (its slot was resharded away, and Redis sent
/// `sunsubscribe`; or the node failed, and a replica took its slots) it is placed again on
/// its slot's master, and `onResubscribe` is called with the channel once that master has
/// confirmed it: a message published in between was lost, so the owner re-reads the state it
/// waits for, as after a reconnect of a classic subscriber.
public final class ShardedSubscriber: Sendable {
    private struct Entry {
        /// Tells this entry's placement from that of an entry of the same name dropped and
        /// made again while the first placement was under way.
        var generation: UInt64
        /// Callers whose subscribe() returned, plus those still waiting.
        var references = 0
        /// The master whose subscriber holds this channel's one reference, once placed.
        var node: RedisURL.HostPort?
        /// A placement is under way (the first, or after the node stopped serving it).
        var placing = false
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    }

    private struct State {
        var channels: [String: Entry] = [:]
        var nodes: [RedisURL.HostPort: RedisSubscriber] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    private let nextID = Atomic<UInt64>(0)
    private let configuration: RedisConfiguration
    private let map: ClusterMap
    private let logger: Logger
    private let onMessage: RedisSubscriber.MessageHandler
    private let onResubscribe: @Sendable (String) -> Void

    /// - Parameters:
    ///   - configuration: a `redis+cluster://` URL's configuration.
    ///   - onResubscribe: called with a channel that was placed again after its node stopped
    ///     serving it.
    ///   - onMessage: called for each message, on the thread of the node's subscriber.
    public init(
        configuration: RedisConfiguration,
        logger: Logger = Logger(label: "kale.redis.pubsub"),
        onResubscribe: @escaping @Sendable (String) -> Void = { _ in },
        onMessage: @escaping RedisSubscriber.MessageHandler
    ) {
        guard let map = ClusterMap.shared(for: configuration.url) else {
            preconditionFailure("ShardedSubscriber needs a redis+cluster:// URL")
        }
        self.configuration = configuration
        self.map = map
        self.logger = logger
        self.onMessage = onMessage
        self.onResubscribe = onResubscribe
    }

    /// Subscribes to shard channel `channel` and returns once its slot's master confirmed it.
    /// Each call that returns holds one reference, released by ``unsubscribe(_:)``.
    ///
    /// Redirections, a node that cannot be reached and a cluster without a master for the
    /// slot are retried for ``ClusterRouter/retryBudget``.
    ///
    /// - Throws: ``RedisError`` (a refusal names the ACL rule missing); `.closed` after
    ///   ``shutdown()``; `CancellationError`.
    public func subscribe(_ channel: String) async throws {
        enum Start { case failed(any Error), ready, wait, place(UInt64) }
        let id = nextID.add(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let start = state.withLock { s -> Start in
                    if s.closed { return .failed(RedisError(.closed, detail: "the subscriber is closed")) }
                    if Task.isCancelled { return .failed(CancellationError()) }
                    var e = s.channels[channel] ?? Entry(generation: id)
                    e.references += 1
                    if e.node != nil {
                        s.channels[channel] = e
                        return .ready
                    }
                    e.waiters[id] = continuation
                    let start = !e.placing
                    e.placing = true
                    s.channels[channel] = e
                    return start ? .place(e.generation) : .wait
                }
                switch start {
                case .failed(let error): continuation.resume(throwing: error)
                case .ready: continuation.resume()
                case .wait: break
                case .place(let generation): Task { await self.place(channel, generation, patient: false) }
                }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                guard var e = s.channels[channel], let w = e.waiters.removeValue(forKey: id) else { return nil }
                e.references -= 1
                s.channels[channel] = e.references > 0 ? e : nil
                return w
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Drops one reference to `channel`; the last one unsubscribes it on its master.
    public func unsubscribe(_ channel: String) {
        let release = state.withLock { s -> RedisSubscriber? in
            guard var e = s.channels[channel] else { return nil }
            e.references -= 1
            if e.references > 0 {
                s.channels[channel] = e
                return nil
            }
            s.channels[channel] = nil
            return e.node.flatMap { s.nodes[$0] }
        }
        release?.unsubscribe(channel)
    }

    /// Stops every node's subscriber; pending subscriptions fail with `.closed`.
    public func shutdown() {
        let (nodes, waiters) = state.withLock { s -> ([RedisSubscriber], [CheckedContinuation<Void, any Error>]) in
            s.closed = true
            defer {
                s.nodes.removeAll()
                s.channels.removeAll()
            }
            return (Array(s.nodes.values), s.channels.values.flatMap { $0.waiters.values })
        }
        for n in nodes { n.shutdown() }
        for w in waiters { w.resume(throwing: RedisError(.closed, detail: "the subscriber is closed")) }
    }

    /// How many masters have a subscriber of this process (for tests and diagnostics).
    var nodeCount: Int { state.withLock { s in s.nodes.values.filter { !$0.isClosed }.count } }

    /// Puts the entry of `channel` made as `generation` on its slot's master: subscribes
    /// there (one reference, whoever many hold the entry), then wakes the entry's waiters.
    ///
    /// A first placement gives up after the retry budget and fails its waiters; a patient one
    /// (a channel that lost its node, with nobody waiting to be told) keeps trying for as long
    /// as anyone holds the channel.
    ///
    /// - Returns: whether the channel was placed.
    @discardableResult
    private func place(_ channel: String, _ generation: UInt64, patient: Bool) async -> Bool {
        let slot = ClusterSlot.of(channel)
        let deadline = ContinuousClock.now + ClusterRouter.retryBudget
        var round = 0
        while true {
            let wanted = state.withLock { s in !s.closed && s.channels[channel]?.generation == generation }
            guard wanted else { return false }
            do {
                let node = try map.owner(of: slot, configuration)
                let subscriber = subscriber(for: node)
                try await subscriber.subscribe(channel)
                let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>]? in
                    guard !s.closed, var e = s.channels[channel], e.generation == generation else { return nil }
                    e.node = node
                    e.placing = false
                    let w = Array(e.waiters.values)
                    e.waiters.removeAll()
                    s.channels[channel] = e
                    return w
                }
                guard let waiters else {
                    // Everyone let go while the subscription was under way.
                    subscriber.unsubscribe(channel)
                    return false
                }
                for w in waiters { w.resume() }
                return true
            } catch let error as RedisError where Self.isRetryable(error) && (patient || ContinuousClock.now < deadline) {
                if case .moved(let slot, let node)? = ClusterRouter.redirection(in: [.error(error.detail)]) {
                    map.moved(slot, to: node)
                } else {
                    map.markStale()
                }
                round += 1
                try? await Task.sleep(for: patient ? min(ClusterRouter.backoff(round), .seconds(1)) : ClusterRouter.backoff(round))
            } catch {
                let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
                    guard var e = s.channels[channel], e.generation == generation else { return [] }
                    let w = Array(e.waiters.values)
                    e.waiters.removeAll()
                    e.references -= w.count
                    e.placing = false
                    s.channels[channel] = e.references > 0 ? e : nil
                    return w
                }
                if patient { logger.error("a shard channel could not be subscribed again", metadata: ["error": "\(error)"]) }
                for w in waiters { w.resume(throwing: error) }
                return false
            }
        }
    }

    /// The subscriber of `node`, made on first use or when the last one was lost.
    private func subscriber(for node: RedisURL.HostPort) -> RedisSubscriber {
        state.withLock { s in
            if let existing = s.nodes[node], !existing.isClosed { return existing }
            var direct = configuration
            direct.url = configuration.url.clusterNode(node)
            let made = RedisSubscriber(
                configuration: direct, logger: logger,
                shard: RedisSubscriber.Shard(
                    onEvicted: { [weak self] channel in self?.replace([channel], from: node) },
                    onLost: { [weak self] channels in self?.lost(node, channels) }),
                onResubscribe: {}, onMessage: onMessage)
            s.nodes[node] = made
            return made
        }
    }

    private func lost(_ node: RedisURL.HostPort, _ channels: [String]) {
        logger.info("a cluster node's pub/sub connection was lost; moving its channels", metadata: ["node": "\(node)"])
        state.withLock { s in
            if let n = s.nodes[node], n.isClosed { s.nodes[node] = nil }
        }
        replace(channels, from: node)
    }

    /// Places again the channels that `node` no longer serves, and tells the owner of each.
    private func replace(_ channels: [String], from node: RedisURL.HostPort) {
        map.markStale()
        let moving = state.withLock { s -> [(String, UInt64)] in
            channels.compactMap { channel in
                guard var e = s.channels[channel], e.node == node else { return nil }
                e.node = nil
                e.placing = true
                e.generation = nextID.add(1, ordering: .relaxed).newValue
                s.channels[channel] = e
                return (channel, e.generation)
            }
        }
        for (channel, generation) in moving {
            Task {
                if await self.place(channel, generation, patient: true) { self.onResubscribe(channel) }
            }
        }
    }

    static func isRetryable(_ error: RedisError) -> Bool {
        if error.isConnectionFailure || error.code == .closed || error.code == .eof || error.code == .io { return true }
        guard let code = error.serverCode else { return false }
        return ClusterRouter.redirectionCodes.contains(code)
    }
}
