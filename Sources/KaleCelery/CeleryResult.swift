public import Kale

/// A task's state in Celery's result backend (`celery-task-meta-<id>`, CELERY.md §3.2).
public struct CeleryResult: Sendable, Hashable {
    /// `SUCCESS`, `FAILURE`, `REVOKED`, `RETRY`, `STARTED` … (absent key: `PENDING`).
    public var status: String
    /// The return value; for an exception state, Celery's exception dict.
    public var result: JSONValue
    public var traceback: String?
    public var taskID: String

    /// SUCCESS, FAILURE and REVOKED: the task will not change again.
    public var isReady: Bool { ["SUCCESS", "FAILURE", "REVOKED"].contains(status) }

    /// Reads a stored or published result; nil when it is not one.
    public init?(json bytes: [UInt8]) {
        guard case .object(let o)? = try? JSONValue(parsingPython: bytes), let status = o["status"]?.stringValue else { return nil }
        self.status = status
        result = o["result"] ?? .null
        traceback = o["traceback"]?.stringValue
        taskID = o["task_id"]?.stringValue ?? ""
    }

    /// The value as `T`, or the task's exception as a ``CeleryTaskError``.
    public func value<T: Decodable>(as type: T.Type) throws -> T {
        guard status == "SUCCESS" else { throw CeleryTaskError(self) }
        do { return try result.decode(T.self) }
        catch { throw KaleError(.encoding, detail: "the result of Celery task \(taskID) does not decode as \(T.self): \(error)", taskID: taskID) }
    }
}

/// The exception a Celery task raised (or the revocation that ended it), as Python wrote it.
public struct CeleryTaskError: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: String
    /// e.g. `ValueError`, `TaskRevokedError`.
    public var type: String
    /// e.g. `builtins`, `celery.exceptions`.
    public var module: String?
    /// `str(exc)` as far as its args tell: the args joined.
    public var message: String
    public var traceback: String?
    public var taskID: String

    public init(_ r: CeleryResult) {
        status = r.status
        taskID = r.taskID
        traceback = r.traceback
        let o = r.result.objectValue ?? [:]
        type = o["exc_type"]?.stringValue ?? r.status
        module = o["exc_module"]?.stringValue
        switch o["exc_message"] {
        case .array(let parts)?: message = parts.map { $0.stringValue ?? $0.jsonString }.joined(separator: ", ")
        case .string(let s)?: message = s
        case let other?: message = other.jsonString
        case nil: message = r.result.jsonString
        }
    }

    public var description: String { "\(module.map { $0 + "." } ?? "")\(type): \(message)" }
}
