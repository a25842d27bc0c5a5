import Foundation
import Glibc
import KaleObservability
import Logging
import Testing

@Suite struct MetricsEndpointTests {
    /// A TCP connection to 127.0.0.1:`port`.
    static func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(rc == 0)
        return fd
    }

    static func exchange(_ port: Int, _ request: String) throws -> String {
        let fd = try connect(port)
        defer { close(fd) }
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, 4096, 0)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func servesMetricsAndRefusesTheRest() throws {
        let endpoint = try MetricsEndpoint(port: 0, logger: Logger(label: "test")) { Array("kale_up 1\n".utf8) }
        defer { endpoint.stop() }
        let ok = try Self.exchange(endpoint.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK"))
        #expect(ok.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(ok.hasSuffix("\r\n\r\nkale_up 1\n"))
        #expect(try Self.exchange(endpoint.port, "GET / HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404"))
        #expect(try Self.exchange(endpoint.port, "POST /metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 405"))
    }

    @Test func aClientTricklingItsRequestIsCutOffAndScrapesGoOn() async throws {
        let endpoint = try MetricsEndpoint(port: 0, logger: Logger(label: "test")) { Array("kale_up 1\n".utf8) }
        let slow = try Self.connect(endpoint.port)
        defer { close(slow) }
        // One byte every 300 ms: each read would be within a per-read timeout, for ever.
        let trickle = Task.detached {
            for byte in Array("GET /metrics HTTP/1.1\r\nX-Pad: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 100) {
                var b = byte
                if send(slow, &b, 1, Int32(MSG_NOSIGNAL)) <= 0 { return }
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
        defer { trickle.cancel() }
        let start = ContinuousClock.now
        // A real scrape queued behind the slow client is answered once the 2-s budget ends.
        let scrape = try Self.exchange(endpoint.port, "GET /metrics HTTP/1.1\r\n\r\n")
        #expect(scrape.hasPrefix("HTTP/1.1 200 OK"))
        #expect(ContinuousClock.now - start < .seconds(4), "the slow client held the endpoint \(ContinuousClock.now - start)")
        let stopStart = ContinuousClock.now
        endpoint.stop()
        #expect(ContinuousClock.now - stopStart < .seconds(2), "stop() waited for the slow client")
    }
}
