import Foundation
import Glibc
public import Logging
import Synchronization

/// Serves `GET /metrics` over plain HTTP/1.1 on one thread of its own: what a Prometheus
/// scrape needs, and nothing else.
///
/// A worker binary must not link an HTTP stack for this (decision 0019): a scrape is one
/// request and one response, so POSIX sockets and `poll` do it. Anything but `GET /metrics`
/// gets 404 (`GET /`) or 405; a request must arrive whole within 2 s and fit 8 KiB, and the
/// answer must be taken within 3 s more; one connection at a time, closed after the answer.
public final class MetricsEndpoint: Sendable {
    /// The port it listens on (the one asked for, or the one the kernel chose for 0).
    public let port: Int
    private let socket: Int32
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    /// Binds `address:port` and starts answering; `body` renders the metrics for each scrape
    /// (it runs on the endpoint's thread and may block briefly).
    /// - Throws: ``MetricsEndpoint/BindError`` when the address cannot be bound.
    public init(address: String = "127.0.0.1", port: Int, logger: Logger,
                body: @escaping @Sendable () -> [UInt8]) throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BindError(message: "socket(): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &addr.sin_addr) == 1 else {
            close(fd)
            throw BindError(message: "'\(address)' is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw BindError(message: "cannot listen on \(address):\(port): \(why)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        socket = fd
        let thread = Thread { [self] in
            serve(body: body, logger: logger)
            done.signal()
        }
        thread.name = "kale-metrics"
        thread.start()
    }

    /// Stops listening; returns once the thread ended (within about a second).
    public func stop() {
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        done.wait()
        close(socket)
    }

    public struct BindError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    private func serve(body: @Sendable () -> [UInt8], logger: Logger) {
        while !stopped.load(ordering: .sequentiallyConsistent) {
            var p = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            // 1 s at most between looks at `stopped`.
            guard poll(&p, 1, 1000) > 0 else { continue }
            let client = accept(socket, nil, nil)
            guard client >= 0 else { continue }
            // Not inherited by a child the worker spawns meanwhile.
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            answer(client, body: body)
            close(client)
        }
    }

    /// Waits until `client` is ready for `events` or `deadline` passes (false then).
    private func ready(_ client: Int32, _ events: Int32, before deadline: ContinuousClock.Instant) -> Bool {
        let left = deadline - .now
        guard left > .zero else { return false }
        var p = pollfd(fd: client, events: Int16(events), revents: 0)
        return poll(&p, 1, Int32(max(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000, 1))) > 0
    }

    private func answer(_ client: Int32, body: () -> [UInt8]) {
        // One deadline for the whole exchange, not a timeout per read: a client sending a
        // byte a second must not hold the only serving thread (and with it the worker's exit).
        let deadline = ContinuousClock.now + .seconds(2)
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        // Read up to the end of the headers; a scrape has no body.
        while request.count < 8192, !request.ends(with: [13, 10, 13, 10]) {
            guard ready(client, Int32(POLLIN), before: deadline) else { return }
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, 2048, Int32(MSG_DONTWAIT)) }
            if n <= 0 { return }
            request += buffer[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let (status, type, content): (String, String, [UInt8])
        if line.count >= 2, line[0] == "GET", line[1] == "/metrics" || line[1].hasPrefix("/metrics?") {
            (status, type, content) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body())
        } else if line.count >= 2, line[0] != "GET" {
            (status, type, content) = ("405 Method Not Allowed", "text/plain; charset=utf-8", Array("only GET /metrics\n".utf8))
        } else {
            (status, type, content) = ("404 Not Found", "text/plain; charset=utf-8", Array("see /metrics\n".utf8))
        }
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(content.count)\r\nConnection: close\r\n\r\n"
        send(client, Array(head.utf8) + content, before: deadline + .seconds(3))
    }

    private func send(_ client: Int32, _ bytes: [UInt8], before deadline: ContinuousClock.Instant) {
        var offset = 0
        while offset < bytes.count, ready(client, Int32(POLLOUT), before: deadline) {
            let n = bytes.withUnsafeBytes {
                Glibc.send(client, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n <= 0 { return }
            offset += n
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
