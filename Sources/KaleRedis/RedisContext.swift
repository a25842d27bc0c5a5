internal import CHiredis
import Glibc

/// The one owner of a hiredis `redisContext`.
///
/// `@unchecked Sendable` because the C pointer cannot be checked. Invariant: a context is
/// used by exactly one thread at a time (the thread of the ``RedisConnection`` or
/// ``RedisSubscriber`` that made it) and is freed exactly once, in `deinit`. A context that
/// reports an I/O or protocol error is never used again: the owner drops it and connects anew.
final class RedisContext: @unchecked Sendable {
    private let raw: UnsafeMutablePointer<redisContext>
    private var currentTimeout: Duration
    let endpoint: String

    private init(raw: UnsafeMutablePointer<redisContext>, timeout: Duration, endpoint: String) {
        self.raw = raw
        self.currentTimeout = timeout
        self.endpoint = endpoint
    }

    deinit { redisFree(raw) }

    /// The socket, for poll().
    var fileDescriptor: Int32 { raw.pointee.fd }

    /// Connects, applies timeouts and keepalive, then AUTH, SELECT and CLIENT SETNAME.
    ///
    /// - Parameter requireMaster: also asks `ROLE` in the same round trip and refuses a
    ///   server that is not a master (a Sentinel's answer that a failover has overtaken).
    static func connect(_ configuration: RedisConfiguration, requireMaster: Bool = false) throws -> RedisContext {
        let url = configuration.url
        blockBrokenPipeSignal()
        let tv = timeval(configuration.connectTimeout)
        let endpoint: String
        let pointer: UnsafeMutablePointer<redisContext>?
        switch url.endpoint {
        case .tcp(let host, let port):
            endpoint = "\(host):\(port)"
            pointer = redisConnectWithTimeout(host, Int32(port), tv)
        case .unix(let path):
            endpoint = path
            pointer = redisConnectUnixWithTimeout(path, tv)
        case .sentinel(_, let master):
            // RedisConnection resolves a Sentinel URL to its master's address first.
            throw RedisError(.invalidURL, detail: "the master '\(master)' must be resolved through its sentinels before connecting")
        case .cluster(let nodes):
            // A context of its own on a cluster (a subscriber, a start-up check) talks to any
            // node that answers; keyed commands go through the slot map (ClusterRouter).
            var failure = RedisError(.invalidURL, detail: "a redis+cluster:// URL needs at least one node")
            for node in nodes {
                var direct = configuration
                direct.url = url.clusterNode(node)
                do { return try connect(direct, requireMaster: requireMaster) } catch let error as RedisError { failure = error }
            }
            throw failure
        }
        guard let pointer else { throw RedisError(.io, detail: "cannot allocate a hiredis context for \(endpoint)") }
        let context = RedisContext(raw: pointer, timeout: configuration.commandTimeout, endpoint: endpoint)
        if pointer.pointee.err != 0 {
            let message = String(cString: kale_redis_errstr(pointer))
            let lowered = message.lowercased()
            if lowered.contains("timed out") || lowered.contains("temporarily unavailable") {
                throw RedisError(.timeout, detail: "connecting to \(endpoint) took longer than \(configuration.connectTimeout): \(message)")
            }
            throw RedisError(.connectionRefused, detail: "cannot connect to \(endpoint): \(message)")
        }
        // hiredis 0.14 opens its socket without SOCK_CLOEXEC. Left open across exec, every
        // child process (worker children, a spawned redis-server) would keep a copy of this
        // connection, so the server would not see it close when we drop it.
        let flags = fcntl(pointer.pointee.fd, F_GETFD)
        if flags >= 0 { _ = fcntl(pointer.pointee.fd, F_SETFD, flags | FD_CLOEXEC) }
        guard redisSetTimeout(pointer, timeval(configuration.commandTimeout)) == REDIS_OK else {
            throw context.failure("setting the socket timeout")
        }
        if configuration.keepAlive, case .tcp = url.endpoint {
            _ = redisEnableKeepAlive(pointer)
        }
        var setup: [RedisCommand] = []
        if let password = url.password {
            setup.append(url.user.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
        }
        if url.database != 0 { setup.append(RedisCommand("SELECT", url.database)) }
        if let name = configuration.clientName { setup.append(RedisCommand("CLIENT", "SETNAME", name)) }
        if requireMaster { setup.append(RedisCommand("ROLE")) }
        guard !setup.isEmpty else { return context }
        let replies = try context.send(setup)
        for (command, reply) in zip(setup, replies) {
            if command.name == "ROLE" { try confirmMaster(reply, endpoint, user: url.user) }
            guard case .error(let message) = reply else { continue }
            if command.name == "AUTH" || message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
                // The server's text never contains the password; only say which user tried.
                let who = url.user.map { "user '\($0)'" } ?? "the default user"
                throw RedisError(.authentication, detail: "\(endpoint) refused \(who): \(message)")
            }
            throw RedisError(serverReply: message, to: command, user: url.user, context: "\(command.name) on \(endpoint)")
        }
        return context
    }

    /// Refuses a server whose `ROLE` is not `master`. A refusal is a connection failure, so
    /// the caller backs off and asks the sentinels again, as the spec says.
    private static func confirmMaster(_ reply: RedisReply, _ endpoint: String, user: String?) throws {
        if case .error(let message) = reply {
            let who = user.map { "the Redis user '\($0)'" } ?? "the Redis default user"
            throw RedisError(
                .permission,
                detail: "\(who) may not run ROLE, which Kale sends to confirm the master a Sentinel names: add `+role` to its ACL (\(message))")
        }
        let role = reply.array?.first?.string ?? "unknown"
        guard role == "master" else {
            throw RedisError(.notMaster, detail: "\(endpoint) is a \(role), not a master: a failover is under way or just ended")
        }
    }

    /// Sends every command, then reads one reply for each: one round trip for the lot.
    ///
    /// - Throws: ``RedisError`` for I/O, EOF, timeout or protocol failures (the context is
    ///   then unusable). Server error replies come back as `.error` values, not throws.
    func send(_ commands: [RedisCommand]) throws -> [RedisReply] {
        var wait = Duration.zero
        for command in commands {
            if let t = command.blockingTimeout, t > wait { wait = t }
        }
        try append(commands)
        // The socket must outwait the server's own timeout, or a blocking command that
        // legitimately sits for its full timeout would look like a dead connection.
        let needed = wait == .zero ? nil : wait + currentTimeout
        if let needed { _ = redisSetTimeout(raw, timeval(needed)) }
        defer { if needed != nil { _ = redisSetTimeout(raw, timeval(currentTimeout)) } }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try readReply()) }
        return replies
    }

    /// Queues one command in hiredis' output buffer (written by the next read or flush).
    func append(_ command: RedisCommand) throws { try append([command]) }

    /// Queues commands in hiredis' output buffer, RESP-encoded here into one buffer.
    ///
    /// `redisAppendCommandArgv` needs a pointer array per command and formats each one with
    /// `sdscatfmt`, so every command cost several allocations and two copies of its
    /// arguments; pipelines of 16 ran at ~60% of `redis-benchmark -P 16`. Encoding the whole
    /// batch at once and handing it over with `redisAppendFormattedCommand` costs one
    /// buffer and one copy into hiredis, whatever the batch size.
    func append(_ commands: [RedisCommand]) throws {
        guard !commands.isEmpty else { return }
        var size = 0
        for command in commands {
            size += 3 + decimalLength(command.arguments.count)
            for a in command.arguments { size += 5 + decimalLength(a.count) + a.count }
        }
        let rc = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { buffer -> Int32 in
            var at = 0
            func put(_ byte: UInt8) {
                buffer[at] = byte
                at += 1
            }
            func put(_ prefix: UInt8, _ number: Int) {
                put(prefix)
                let end = at + decimalLength(number)
                var n = number
                at = end
                repeat {
                    at -= 1
                    buffer[at] = UInt8(ascii: "0") + UInt8(n % 10)
                    n /= 10
                } while n > 0
                at = end
                put(13)
                put(10)
            }
            for command in commands {
                put(UInt8(ascii: "*"), command.arguments.count)
                for a in command.arguments {
                    put(UInt8(ascii: "$"), a.count)
                    a.withUnsafeBufferPointer { bytes in
                        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
                        UnsafeMutableRawPointer(buffer.baseAddress! + at).copyMemory(from: base, byteCount: bytes.count)
                    }
                    at += a.count
                    put(13)
                    put(10)
                }
            }
            precondition(at == size, "RESP size miscounted")
            return UnsafeRawPointer(buffer.baseAddress!).withMemoryRebound(to: CChar.self, capacity: size) {
                redisAppendFormattedCommand(raw, $0, size)
            }
        }
        guard rc == REDIS_OK else { throw failure("queueing \(commands.first?.name ?? "a command")") }
    }

    /// Blocks until one reply is read (flushing the output buffer first).
    func readReply() throws -> RedisReply {
        var reply: UnsafeMutableRawPointer?
        guard redisGetReply(raw, &reply) == REDIS_OK, let reply else {
            throw failure("reading a reply")
        }
        defer { freeReplyObject(reply) }
        return RedisContext.convert(reply.assumingMemoryBound(to: redisReply.self))
    }

    /// Whether the server closed the socket (or sent something unasked) while no reply was
    /// due: the socket is readable although we wait for nothing. Costs one `poll`, no read.
    var isClosedByPeer: Bool {
        var fds = pollfd(fd: raw.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&fds, 1, 0) != 0
    }

    /// Writes the output buffer to the socket without reading.
    func flush() throws {
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(raw, &done) == REDIS_OK else { throw failure("writing") }
        }
    }

    /// Reads what the socket has (call only when poll() says it is readable).
    func readAvailable() throws {
        guard redisBufferRead(raw) == REDIS_OK else { throw failure("reading") }
    }

    /// A complete reply already in the read buffer, if any; never touches the socket.
    func bufferedReply() throws -> RedisReply? {
        var reply: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(raw, &reply) == REDIS_OK else { throw failure("parsing a reply") }
        guard let reply else { return nil }
        defer { freeReplyObject(reply) }
        return RedisContext.convert(reply.assumingMemoryBound(to: redisReply.self))
    }

    private func failure(_ doing: String) -> RedisError {
        discardBrokenPipeSignal()
        let code = raw.pointee.err
        let message = String(cString: kale_redis_errstr(raw))
        switch code {
        case REDIS_ERR_EOF:
            return RedisError(.eof, detail: "\(endpoint) closed the connection while \(doing)")
        case REDIS_ERR_PROTOCOL:
            return RedisError(.protocolError, detail: "\(doing) from \(endpoint): \(message)")
        case REDIS_ERR_IO where errno == EAGAIN || errno == EWOULDBLOCK || message.contains("temporarily unavailable"):
            return RedisError(.timeout, detail: "\(endpoint) did not answer within \(currentTimeout) while \(doing)")
        default:
            return RedisError(.io, detail: "\(doing) on \(endpoint): \(message)")
        }
    }

    private static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = r.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            guard reply.len > 0, let str = reply.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: Int(reply.len))))
        case REDIS_REPLY_STATUS:
            return .status(text(reply))
        case REDIS_REPLY_ERROR:
            return .error(text(reply))
        case REDIS_REPLY_INTEGER:
            return .integer(reply.integer)
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(Int(reply.elements))
            for i in 0..<Int(reply.elements) {
                if let element = reply.element[i] { items.append(convert(element)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }

    private static func text(_ reply: redisReply) -> String {
        guard reply.len > 0, let str = reply.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: Int(reply.len)), as: UTF8.self)
    }
}

private func timeval(_ d: Duration) -> timeval {
    let c = d.components
    return Glibc.timeval(tv_sec: Int(c.seconds), tv_usec: Int(c.attoseconds / 1_000_000_000_000))
}

/// Blocks SIGPIPE on the calling thread, the one that will own the new context.
///
/// hiredis 0.14 writes with plain `write()`, not `send(MSG_NOSIGNAL)`. Writing to a socket the
/// server has reset (it died during a large pipeline) raises SIGPIPE, whose default action
/// kills the whole process (seen: the test process exiting with 141). SIGPIPE from `write()`
/// goes to the writing thread, so blocking it there turns it into an EPIPE error without
/// touching the process-wide disposition, which belongs to the application.
private func blockBrokenPipeSignal() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &set, nil)
}

/// Consumes a SIGPIPE left pending on this thread by a failed write, so it cannot fire later
/// should the thread ever unblock SIGPIPE.
private func discardBrokenPipeSignal() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGPIPE)
    var pending = sigset_t()
    guard sigpending(&pending) == 0, sigismember(&pending, SIGPIPE) == 1 else { return }
    var zero = timespec(tv_sec: 0, tv_nsec: 0)
    let saved = errno
    _ = sigtimedwait(&set, nil, &zero)
    errno = saved
}

/// Digits of a non-negative number in decimal.
private func decimalLength(_ n: Int) -> Int {
    var digits = 1
    var rest = n
    while rest >= 10 {
        rest /= 10
        digits += 1
    }
    return digits
}
