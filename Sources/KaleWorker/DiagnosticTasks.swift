import CKaleSystem
import Foundation
import Glibc
public import Kale

/// Built-in tasks for trying out and testing a deployment: `kale.noop`, `kale.echo`,
/// `kale.sleep`, `kale.spin`, `kale.fail`, `kale.crash`, `kale.alloc`, `kale.spawn-sleeper` and `kale.add`.
///
/// The stand-alone `kale worker` serves them; an embedding executable only with `--diagnostics`.
public enum DiagnosticTasks {
    /// Registers every diagnostic task in `registry`.
    public static func register(in registry: TaskRegistry) {
        registry.register(Noop())
        registry.register(Echo())
        registry.register(Sleep())
        registry.register(Spin())
        registry.register(Fail())
        registry.register(Crash())
        registry.register(Alloc())
        registry.register(SpawnSleeper())
        registry.register(Add())
    }

    /// Does nothing but say which process ran it; measures the queue's own overhead.
    public struct Noop: TaskDefinition {
        public static let name = "kale.noop"
        public init() {}
        public func run(_ input: JSONValue?, context: TaskContext) async throws -> Int32 { getpid() }
    }

    /// Returns its arguments.
    public struct Echo: TaskDefinition {
        public static let name = "kale.echo"
        /// A positional call (a Celery errback gets the failed task's id) returns {"value": …}.
        public static let argumentNames = ["value"]
        public init() {}
        public func run(_ input: JSONValue, context: TaskContext) async throws -> JSONValue { input }
    }

    public struct DurationInput: Codable, Sendable {
        public var ms: Int
        /// For `kale.spin`: keep burning CPU after a stop request (tests the kill path).
        public var ignoreCancel: Bool?
        public init(ms: Int, ignoreCancel: Bool? = nil) { self.ms = ms; self.ignoreCancel = ignoreCancel }
        enum CodingKeys: String, CodingKey { case ms, ignoreCancel = "ignore_cancel" }
    }

    /// Sleeps `ms` milliseconds, reporting progress every tenth; stops when cancelled.
    public struct Sleep: TaskDefinition {
        public static let name = "kale.sleep"
        public init() {}
        public func run(_ input: DurationInput, context: TaskContext) async throws -> Int {
            let step = max(input.ms / 10, 1)
            var slept = 0
            while slept < input.ms {
                try context.checkCancellation()
                let chunk = min(step, input.ms - slept)
                try await Task.sleep(for: .milliseconds(chunk))
                slept += chunk
                await context.reportProgress(Double(slept) / Double(max(input.ms, 1)), message: "slept \(slept) ms")
            }
            return slept
        }
    }

    /// Burns CPU for `ms` milliseconds of wall time.
    public struct Spin: TaskDefinition {
        public static let name = "kale.spin"
        public init() {}
        public func run(_ input: DurationInput, context: TaskContext) async throws -> UInt64 {
            let end = ContinuousClock.now + .milliseconds(input.ms)
            var x: UInt64 = 0x9E37_79B9_7F4A_7C15
            var rounds: UInt64 = 0
            while ContinuousClock.now < end {
                for _ in 0..<10_000 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
                rounds &+= 1
                if input.ignoreCancel != true { try context.checkCancellation() }
            }
            return rounds ^ (x & 1)
        }
    }

    public struct MessageInput: Codable, Sendable {
        public var message: String?
        public init(message: String? = nil) { self.message = message }
    }

    /// Always throws, with `message`.
    public struct Fail: TaskDefinition {
        public static let name = "kale.fail"
        public init() {}
        public struct Failure: Error, CustomStringConvertible {
            public var description: String
        }
        public func run(_ input: MessageInput, context: TaskContext) async throws -> Bool {
            throw Failure(description: input.message ?? "kale.fail was asked to fail")
        }
    }

    public struct CrashInput: Codable, Sendable {
        /// `abort`, `trap`, `segv` or `exit`.
        public var how: String
        public init(how: String) { self.how = how }
    }

    /// Crashes the process running it: only ever run it in the process pool.
    public struct Crash: TaskDefinition {
        public static let name = "kale.crash"
        public init() {}
        public func run(_ input: CrashInput, context: TaskContext) async throws -> Bool {
            switch input.how {
            case "abort": abort()
            case "trap": fatalError("kale.crash asked for a trap")
            case "segv":
                raise(SIGSEGV)
                return false
            case "exit": exit(3)
            default:
                throw TaskFailure.rejected("unknown crash kind '\(input.how)' (abort, trap, segv, exit)", type: "InvalidInput")
            }
        }
    }

    public struct AllocInput: Codable, Sendable {
        public var mb: Int
        /// How long to hold the memory before returning.
        public var holdMs: Int?
        /// Allocate with Swift's allocator in blocks of this many MiB, as Swift code does (it
        /// traps when an allocation fails), instead of one `malloc` (which returns NULL).
        public var chunkMb: Int?
        /// Write to every page (the default), so the memory is resident. `false` only commits
        /// address space: resident memory stays low, and only a hard limit on the child sees it.
        public var touch: Bool?
        public init(mb: Int, holdMs: Int? = nil, chunkMb: Int? = nil, touch: Bool? = nil) {
            self.mb = mb; self.holdMs = holdMs; self.chunkMb = chunkMb; self.touch = touch
        }
        enum CodingKeys: String, CodingKey { case mb, holdMs = "hold_ms", chunkMb = "chunk_mb", touch }
    }

    /// Allocates and touches `mb` MiB, holds it for `hold_ms`, then frees it and returns.
    ///
    /// An allocation the child's memory limit refuses fails the task as
    /// `MemoryLimitExceeded`; with `chunk_mb`, Swift's allocator traps instead and the
    /// supervisor reports the death as that limit.
    public struct Alloc: TaskDefinition {
        public static let name = "kale.alloc"
        public init() {}
        public func run(_ input: AllocInput, context: TaskContext) async throws -> Int {
            guard input.mb >= 0, input.mb <= 1 << 16, (input.chunkMb ?? 1) >= 1 else {
                throw TaskFailure.rejected("mb must be between 0 and 65536 and chunk_mb at least 1", type: "InvalidInput")
            }
            let bytes = input.mb << 20
            var blocks: [(UnsafeMutableRawPointer, Int)] = []
            defer {
                if input.chunkMb == nil { for (p, _) in blocks { free(p) } } else { for (p, _) in blocks { p.deallocate() } }
            }
            if let chunkMb = input.chunkMb {
                var allocated = 0
                while allocated < bytes {
                    let size = min(chunkMb << 20, bytes - allocated)
                    blocks.append((UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16), size))
                    allocated += size
                }
            } else {
                guard let memory = malloc(max(bytes, 1)) else { throw Alloc.refused(input.mb) }
                blocks.append((memory, bytes))
            }
            guard input.touch ?? true else { return input.mb }
            // Every page written through an opaque C helper and read back: a release build
            // removed plain stores into memory nothing read (600 MiB "allocated" in 3 ms).
            var touched: UInt64 = 0
            let step = 64 << 20
            for (memory, size) in blocks {
                var offset = 0
                while offset < size {
                    touched += kale_touch_pages(memory + offset, min(step, size - offset), 4096)
                    offset += step
                    try context.checkCancellation()
                }
            }
            let pages = blocks.reduce(0) { $0 + ($1.1 + 4095) / 4096 }
            guard touched == UInt64(pages) else {
                throw TaskFailure(kind: .error, type: "TouchFailed", message: "read back \(touched) of \(pages) pages written")
            }
            if let hold = input.holdMs, hold > 0 { try await Task.sleep(for: .milliseconds(hold)) }
            return input.mb
        }

        /// A `malloc` that returned NULL: under the child's memory limit that limit is why.
        static func refused(_ mb: Int) -> TaskFailure {
            let limit = kale_data_limit()
            guard limit >= 0 else { return TaskFailure(kind: .error, type: "OutOfMemory", message: "malloc of \(mb) MiB failed") }
            let ceiling = ProcessInfo.processInfo.environment[ChildRuntime.memoryLimitKey].flatMap { Int($0) }
            return TaskFailure(kind: .memoryLimit, type: "MemoryLimitExceeded",
                               message: "allocating \(mb) MiB was refused: the child holds \(max(kale_data_bytes(), 0) >> 20) MiB of the "
                                   + "\(limit >> 20) MiB it may (the ceiling\(ceiling.map { " of \($0 >> 20) MiB" } ?? "") plus what it held idle)")
        }
    }

    public struct SleeperInput: Codable, Sendable {
        /// How long `/bin/sleep` runs, 1 to 3600 s.
        public var seconds: Int
        /// How long the task itself goes on after starting it (so a limit can catch it running).
        public var holdMs: Int?
        public init(seconds: Int, holdMs: Int? = nil) { self.seconds = seconds; self.holdMs = holdMs }
        enum CodingKeys: String, CodingKey { case seconds, holdMs = "hold_ms" }
    }

    /// Starts `/bin/sleep <seconds>` in the background and returns its pid (after `hold_ms`).
    ///
    /// The sleeper inherits what `system()` or Foundation's `Process` would pass on (every
    /// descriptor not marked close-on-exec, the process group), so it shows what a task's own
    /// subprocesses do to the pool: they must neither hold its pipes open nor outlive a kill.
    /// A fixed command rather than a shell: a diagnostic must not run arbitrary input.
    public struct SpawnSleeper: TaskDefinition {
        public static let name = "kale.spawn-sleeper"
        public init() {}
        public func run(_ input: SleeperInput, context: TaskContext) async throws -> Int32 {
            guard (1...3600).contains(input.seconds) else {
                throw TaskFailure.rejected("seconds must be between 1 and 3600", type: "InvalidInput")
            }
            var argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup(String(input.seconds)), nil]
            defer { for p in argv { free(p) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, "/bin/sleep", nil, nil, &argv, environ)
            guard rc == 0 else {
                throw TaskFailure(kind: .error, type: "SpawnFailed", message: "cannot start /bin/sleep: \(String(cString: strerror(rc)))")
            }
            // Reaped on a thread of its own so a long-lived child collects no zombies.
            let sleeper = pid
            let reaper = Thread {
                var status: Int32 = 0
                while waitpid(sleeper, &status, 0) < 0 && errno == EINTR {}
            }
            reaper.name = "kale-sleeper-reaper"
            reaper.start()
            if let hold = input.holdMs, hold > 0 { try await Task.sleep(for: .milliseconds(hold)) }
            return pid
        }
    }
}
