/// A failure in Kale's own layer: refused input, a missing task, a wait that timed out.
public struct KaleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong; new codes may be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let value: String
        fileprivate init(_ value: String) { self.value = value }

        /// The message is larger than the configured maximum.
        public static let payloadTooLarge = Code("payload too large")
        /// An option is out of range (negative retries, empty queue name …).
        public static let invalidOptions = Code("invalid options")
        /// The input could not be encoded, or a result could not be decoded.
        public static let encoding = Code("encoding failed")
        /// No task with that id exists (it never did, or its result expired).
        public static let notFound = Code("task not found")
        /// Waiting for a result took longer than the timeout.
        public static let timeout = Code("timed out")
        /// The awaited task ended without succeeding; ``KaleError/failure`` says how.
        public static let taskFailed = Code("task did not succeed")
        /// A task id was reused.
        public static let duplicateID = Code("duplicate task id")
        /// Redis refused part of a batch and created the rest; ``KaleError/batch`` says which
        /// inputs became tasks, ``KaleError/detail`` holds the refusal.
        public static let partialBatch = Code("batch partly enqueued")
        /// The write reached the master but fewer replicas than ``Replication/replicas``
        /// acknowledged it in time; for a batch, ``KaleError/batch`` names the tasks written.
        public static let notReplicated = Code("not replicated")

        public var description: String { value }
    }

    public var code: Code
    public var detail: String
    public var taskID: String?
    public var queue: String?
    /// For `.taskFailed`: the state it ended in and its recorded error.
    public var failure: TaskFailure?
    public var state: TaskState?
    /// For `.partialBatch`: one entry per input of the batch, in input order. An entry is the
    /// task that input became (as ``KaleClient/enqueueBatch(name:args:options:)`` would have
    /// returned it), or nil when nothing was written for it, so those inputs can be sent again.
    public var batch: [KaleClient.TaskRef?]?

    public init(_ code: Code, detail: String, taskID: String? = nil, queue: String? = nil,
                state: TaskState? = nil, failure: TaskFailure? = nil, batch: [KaleClient.TaskRef?]? = nil) {
        self.code = code
        self.detail = detail
        self.taskID = taskID
        self.queue = queue
        self.state = state
        self.failure = failure
        self.batch = batch
    }

    /// For `.partialBatch`: the tasks of the batch that this call created, in input order.
    public var created: [KaleClient.TaskRef] { (batch ?? []).compactMap { $0 }.filter(\.created) }

    public var description: String {
        var s = "\(code): \(detail)"
        if let taskID { s += " (task \(taskID)" + (queue.map { ", queue \($0)" } ?? "") + ")" }
        return s
    }
}

/// Why a run of a task failed, as recorded in its result and in the dead set.
public struct TaskFailure: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The broad cause, so operators can tell a bug from a crash from a limit.
    public struct Kind: Sendable, Hashable, Codable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The task threw.
        public static let error = Kind(rawValue: "error")
        /// The child process died on a signal (abort, trap, segfault, kill).
        public static let crashed = Kind(rawValue: "crashed")
        /// The child process exited with a code while running the task.
        public static let exited = Kind(rawValue: "exited")
        /// The soft time limit passed and the task did not stop when asked.
        public static let softTimeLimit = Kind(rawValue: "soft_time_limit")
        /// The hard time limit passed; the child was killed.
        public static let timeLimit = Kind(rawValue: "time_limit")
        /// The child outgrew the memory ceiling and was killed.
        public static let memoryLimit = Kind(rawValue: "memory_limit")
        /// The worker holding the lease vanished; the lease expired.
        public static let workerLost = Kind(rawValue: "worker_lost")
        /// The message could not be run at all (bad JSON, unknown task, bad input, too big).
        public static let rejected = Kind(rawValue: "rejected")
        /// Cancelled by request.
        public static let cancelled = Kind(rawValue: "cancelled")

        public var description: String { rawValue }
        public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }
    }

    public var kind: Kind
    /// The error's type name (`DecodingError`, `SIGSEGV` …).
    public var type: String
    public var message: String
    /// False when retrying cannot help (bad input): the task goes straight to the dead set.
    public var retryable: Bool

    public init(kind: Kind, type: String, message: String, retryable: Bool = true) {
        self.kind = kind
        self.type = type
        self.message = message
        self.retryable = retryable
    }

    /// A failure describing an error thrown by a task.
    public init(thrown error: any Error) {
        if let failure = error as? TaskFailure {
            self = failure
        } else {
            self.init(kind: .error, type: String(describing: Swift.type(of: error)), message: String(describing: error))
        }
    }

    /// A failure that retrying cannot fix.
    public static func rejected(_ message: String, type: String = "Rejected") -> TaskFailure {
        TaskFailure(kind: .rejected, type: type, message: message, retryable: false)
    }

    public var description: String { "\(kind): \(type): \(message)" }
}
