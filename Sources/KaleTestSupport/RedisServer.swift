import CKaleSystem
import Foundation
import Glibc
public import KaleRedis
import Synchronization

/// A real `redis-server` for tests: its own temp directory, a free loopback port, killed at exit.
///
/// `RedisServer.shared` is started once per test process (or is the server named by
/// `KALE_TEST_REDIS_URL`). Fault tests start their own with ``init(options:password:aclUser:)``
/// so stopping or restarting it disturbs nobody else.
public final class RedisServer: Sendable {
    private struct State {
        var pid: pid_t = 0
    }

    /// The URL clients use (with credentials when the server requires them).
    public let url: RedisURL
    public let port: Int
    public let directory: String
    private let arguments: [String]
    private let state = Mutex(State())
    private let external: Bool
    /// `redis-server` or `redis-sentinel` (the same binary, which looks at its name).
    private let program: String

    /// The pid of the server this process started; nil for an external one (its pid, even if
    /// INFO names one, may be of another host or container: never signalled).
    var processID: pid_t? { external ? nil : state.withLock { $0.pid } }

    /// The server shared by all tests of this process.
    public static let shared: RedisServer = {
        TestLogging.bootstrap
        if let text = ProcessInfo.processInfo.environment["KALE_TEST_REDIS_URL"] {
            do { return try RedisServer(external: RedisURL(parsing: text)) }
            catch { fatalError("KALE_TEST_REDIS_URL: \(error)") }
        }
        do { return try RedisServer() }
        catch { fatalError("cannot start redis-server for the tests: \(error)") }
    }()

    private init(external url: RedisURL) throws {
        self.url = url
        program = "redis-server"
        if case .tcp(_, let p) = url.endpoint { port = p } else { port = 0 }
        directory = ""
        arguments = []
        external = true
    }

    /// Starts a server on a free loopback port.
    ///
    /// - Parameters:
    ///   - options: extra `redis-server` arguments, e.g. `["--appendonly", "yes"]`.
    ///   - password: sets `requirepass`; the URL carries it.
    ///   - aclUser: creates an ACL user with all permissions; the URL logs in as it.
    ///   - aclFile: the text of an ACL file (`user …` lines) the server loads with `--aclfile`;
    ///     `aclUser`'s line is put first in it, as Redis takes its users from one place only.
    public convenience init(options: [String] = [], password: String? = nil, aclUser: (name: String, password: String)? = nil,
                            aclFile: String? = nil) throws {
        try self.init(program: "redis-server", configuration: nil, options: options, password: password, aclUser: aclUser, aclFile: aclFile)
    }

    /// A `redis-sentinel` on a free loopback port, configured by `configuration` (the
    /// `sentinel monitor …` lines), which is written to a file of its own: a sentinel
    /// rewrites its configuration as it learns.
    public static func sentinel(configuration: String) throws -> RedisServer {
        try RedisServer(program: "redis-sentinel", configuration: configuration, options: [], password: nil, aclUser: nil)
    }

    private init(program: String, configuration: String?, options: [String], password: String?,
                 aclUser: (name: String, password: String)?, aclFile: String? = nil) throws {
        external = false
        self.program = program
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kale-test-redis-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        directory = dir
        port = try RedisServer.freePort()
        var args: [String] = []
        if let configuration {
            let file = "\(dir)/sentinel.conf"
            try configuration.write(toFile: file, atomically: true, encoding: .utf8)
            args.append(file)
        }
        args += [
            "--port", "\(port)", "--bind", "127.0.0.1", "--dir", dir, "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--logfile", "\(dir)/redis.log",
            "--unixsocket", "\(dir)/redis.sock", "--unixsocketperm", "700",
        ]
        if let password { args += ["--requirepass", password] }
        if let aclFile {
            let admin = aclUser.map { "user \($0.name) on >\($0.password) ~* &* +@all\n" } ?? ""
            try (admin + aclFile).write(toFile: "\(dir)/users.acl", atomically: true, encoding: .utf8)
            args += ["--aclfile", "\(dir)/users.acl"]
        } else if let aclUser {
            args += ["--user", aclUser.name, "on", ">\(aclUser.password)", "~*", "&*", "+@all"]
        }
        args += options
        arguments = args
        url = RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port), user: aclUser?.name, password: aclUser?.password ?? password)
        try start()
        RedisServer.registry.withLock { $0.append(self) }
        RedisServer.installExitHandler
    }

    /// The unix socket path of a server this process started.
    public var socketPath: String { "\(directory)/redis.sock" }

    /// A client configuration for this server.
    public func configuration(poolSize: Int = 4) -> RedisConfiguration {
        RedisConfiguration(url: url, connectTimeout: .seconds(2), commandTimeout: .seconds(5), poolSize: poolSize,
                           reconnectBaseDelay: .milliseconds(20), reconnectMaxDelay: .milliseconds(500))
    }

    /// Starts the process (again) on the same port and directory, then waits for PING.
    public func start() throws {
        precondition(!external, "cannot start an external server")
        var pid: pid_t = 0
        let devnull = open("/dev/null", O_RDWR)
        defer { Glibc.close(devnull) }
        let argv = [program] + arguments
        let rc = try RedisServer.spawn(argv: argv, fd: devnull, pid: &pid)
        guard rc == 0 else { throw RedisError(.io, detail: "cannot run \(program): \(String(cString: strerror(rc)))") }
        state.withLock { $0.pid = pid }
        try waitForPing(deadline: .now + .seconds(10))
    }

    /// SIGKILL, like a crash; waits until the process is gone.
    public func kill() { signal(SIGKILL) }

    /// SIGTERM, a clean stop; waits until the process is gone.
    public func stop() { signal(SIGTERM) }

    /// Stops and starts the server on the same port and data directory.
    public func restart() throws {
        stop()
        try start()
    }

    private func signal(_ sig: Int32) {
        let pid = state.withLock { s -> pid_t in
            let p = s.pid
            s.pid = 0
            return p
        }
        guard pid > 0 else { return }
        Glibc.kill(pid, sig)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    private func waitForPing(deadline: ContinuousClock.Instant) throws {
        let probe = RedisConnection(configuration: RedisConfiguration(url: url, connectTimeout: .milliseconds(200), reconnectBaseDelay: .milliseconds(10), reconnectMaxDelay: .milliseconds(50)))
        var last: (any Error)?
        while ContinuousClock.now < deadline {
            if let status = exitedStatus() {
                // Fail at once with the server's own reason instead of polling a dead port.
                throw RedisError(.io, detail: "redis-server on port \(port) exited (status \(status)): \(lastLogLine())")
            }
            do {
                if try probe.send(RedisCommand("PING")).string == "PONG" { return }
            } catch {
                last = error
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        throw RedisError(.timeout, detail: "redis-server on port \(port) did not answer PING: \(String(describing: last)); see \(directory)/redis.log")
    }

    /// The wait status of the server process if it has already exited (it is then reaped).
    private func exitedStatus() -> Int32? {
        state.withLock { s -> Int32? in
            guard s.pid > 0 else { return nil }
            var status: Int32 = 0
            guard waitpid(s.pid, &status, WNOHANG) == s.pid else { return nil }
            s.pid = 0
            return status
        }
    }

    private func lastLogLine() -> String {
        let log = (try? String(contentsOfFile: "\(directory)/redis.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").last { $0.contains("#") }.map(String.init) ?? "see \(directory)/redis.log"
    }

    private static func spawn(argv: [String], fd: Int32, pid: inout pid_t) throws -> Int32 {
        let path = ["/usr/bin/\(argv[0])", "/usr/local/bin/\(argv[0])"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            throw RedisError(.io, detail: "\(argv[0]) is not installed (apt-get install \(argv[0]))")
        }
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var env: [UnsafeMutablePointer<CChar>?] = [nil]
        return kale_spawn(&pid, path, &cArgs, &env, fd, fd, fd, -1)
    }

    /// A loopback TCP port no one listens on now (never 6379), for a server a test starts.
    public static func freePort() throws -> Int {
        // Close-on-exec: a server spawned by another thread in the instant this socket is open
        // would inherit it and hold the port, so the server meant for it fails to bind
        // ("Address already in use"; seen in about one run in three of the kill tests).
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RedisError(.io, detail: "socket: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(fd, p, length) == 0 else { return -1 }
                return getsockname(fd, p, &length)
            }
        }
        guard bound == 0 else { throw RedisError(.io, detail: "bind: \(String(cString: strerror(errno)))") }
        let port = Int(UInt16(bigEndian: address.sin_port))
        // 6379 is the developer's own Redis; never touch it.
        return port == 6379 ? try freePort() : port
    }

    private static let registry = Mutex<[RedisServer]>([])

    private static let installExitHandler: Void = {
        atexit {
            for server in RedisServer.registry.withLock({ $0 }) {
                server.kill()
                try? FileManager.default.removeItem(atPath: server.directory)
            }
        }
    }()
}
