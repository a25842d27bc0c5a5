import Foundation
import Glibc
import Logging

/// Listens for `+switch-master` on one sentinel at a time, for the life of the process.
///
/// Without it a connection learns of a failover only when its own command fails: a planned
/// `SENTINEL FAILOVER` leaves the old master up and answering reads, and a blocked `BLPOP`
/// sits on it for its whole timeout. With it every connection of the process moves within a
/// round trip of the announcement. Messages missed while no sentinel is reachable are not
/// lost for good: a connection that then writes to the old master is told READONLY, and one to
/// a dead master fails, and both ask the sentinels again.
enum SentinelWatcher {
    static func start(for resolver: SentinelResolver, configuration: RedisConfiguration) {
        let thread = Thread { run(resolver, configuration) }
        thread.name = "kale-redis-sentinel"
        thread.start()
    }

    private static func run(_ resolver: SentinelResolver, _ configuration: RedisConfiguration) {
        let logger = Logger(label: "kale.redis.sentinel")
        var failures = 0
        while true {
            for node in resolver.nodes {
                do {
                    try listen(to: node, resolver, configuration) { failures = 0 }
                } catch {
                    failures += 1
                    // One line per outage, not per attempt: the watcher retries for ever.
                    if failures == 1 {
                        logger.info("lost the sentinel announcements; trying the next sentinel",
                                    metadata: ["sentinel": "\(node)", "error": "\(error)"])
                    }
                }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// Subscribes on `node` and hands each `+switch-master` for our master to the resolver,
    /// until the connection fails.
    private static func listen(to node: RedisURL.HostPort, _ resolver: SentinelResolver, _ configuration: RedisConfiguration,
                               subscribed: () -> Void) throws {
        var probe = resolver.probeConfiguration(configuration, node)
        probe.clientName = configuration.clientName.map { "\($0)-sentinel-watch" }
        let context = try RedisContext.connect(probe)
        try context.append(RedisCommand("SUBSCRIBE", "+switch-master"))
        try context.flush()
        var lastTraffic = ContinuousClock.now
        while true {
            var fds = pollfd(fd: context.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let n = poll(&fds, 1, 1000)
            if n < 0, errno != EINTR { throw RedisError(.io, detail: "poll: \(String(cString: strerror(errno)))") }
            if n > 0 {
                try context.readAvailable()
                lastTraffic = .now
                while let reply = try context.bufferedReply() {
                    if case .error(let message) = reply {
                        // Refused (an ACL without the channel): this sentinel cannot tell us.
                        throw RedisError(.server, detail: "sentinel \(node) refused SUBSCRIBE +switch-master: \(message)")
                    }
                    // A switch announced while no sentinel was watched is not replayed, and is
                    // not asked for here either: one sentinel's answer may be stale (seen: it
                    // named a restarted old master, which ROLE accepts, and writes were lost
                    // when it was made a replica). The connections learn of it from their own
                    // errors (READONLY, a kill by the sentinels) instead.
                    if reply.array?.first?.string == "subscribe" { subscribed() }
                    handle(reply, resolver)
                }
            } else if ContinuousClock.now - lastTraffic > .seconds(5) {
                // A sentinel that vanished without a FIN (a partitioned host) must not hold the
                // watcher: a PING that goes unanswered for a while moves it to the next one.
                if ContinuousClock.now - lastTraffic > .seconds(10) {
                    throw RedisError(.timeout, detail: "sentinel \(node) stopped answering PING")
                }
                try context.append(RedisCommand("PING"))
                try context.flush()
            }
        }
    }

    private static func handle(_ reply: RedisReply, _ resolver: SentinelResolver) {
        // ["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"]
        guard let items = reply.array, items.count == 3, items[0].string == "message", let text = items[2].string else { return }
        let words = text.split(separator: " ")
        guard words.count == 5, words[0] == resolver.masterName, let port = Int(words[4]) else { return }
        resolver.switched(to: RedisURL.HostPort(host: String(words[3]), port: port))
    }
}
