import Kale
import Synchronization

/// Runs one handler with its context, soft time limit and stop requests: the part of running
/// a task that is the same in the inline pool and in a child process.
final class HandlerRun: Sendable {
    let context: TaskContext
    private let work: Task<JSONValue, any Error>
    private let softTimer: Task<Void, Never>?

    /// - Parameter executor: where the handler runs (a child's task loop); nil for Swift's
    ///   pool. The soft-limit timer always runs on the pool, so it fires while a CPU-bound
    ///   handler holds the executor.
    init(handler: TaskHandler, envelope: Envelope, attempt: Int, softTimeLimit: Duration?,
         executor: (any TaskExecutor)? = nil, progress: @escaping @Sendable (Double, String?) async -> Void) {
        let context = TaskContext(
            id: envelope.id, name: envelope.name, queue: envelope.queue, attempt: attempt,
            maxRetries: envelope.maxRetries, headers: envelope.headers,
            softDeadline: softTimeLimit.map { .now + $0 }, progress: progress)
        self.context = context
        // Unstructured because the runner must be able to abandon it at the hard limit in
        // inline mode (a Swift task cannot be killed, only cancelled).
        let work = Task(executorPreference: executor) { try await handler.run(envelope.args, context) }
        self.work = work
        softTimer = softTimeLimit.map { limit in
            Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled {
                    context.requestStop(.softTimeLimit)
                    work.cancel()
                }
            }
        }
    }

    /// Asks the task to stop: sets the context's reason and cancels its Swift task.
    func stop(_ reason: TaskContext.StopReason) {
        context.requestStop(reason)
        work.cancel()
    }

    /// The failure of a task whose result is over `limit` bytes.
    static func resultTooLarge(_ size: Int, limit: Int) -> TaskFailure {
        TaskFailure(kind: .error, type: "ResultTooLarge",
                    message: "the result is \(size) bytes, over the limit of \(limit) bytes; store large outputs elsewhere and return a reference",
                    retryable: false)
    }

    /// Waits for the handler's end and classifies it.
    func outcome() async -> Outcome {
        defer { softTimer?.cancel() }
        do {
            let value = try await work.value
            let bytes = (try? value.data()).map { Array($0) } ?? Array("null".utf8)
            // The frame to the supervisor has a hard bound; over it the pipe would be torn
            // down. The worker's own, lower limit (`maxResultSize`) is applied by the worker.
            if bytes.count > Frame.maxLength - 64 {
                return .failed(Self.resultTooLarge(bytes.count, limit: Frame.maxLength - 64))
            }
            return .succeeded(bytes)
        } catch let failure as TaskFailure {
            return .failed(failure)
        } catch {
            // A task that let a cancellation error escape after being asked to stop failed
            // because of that request, not because of a bug.
            if let reason = context.stopReason { return .failed(TaskContext.failure(for: reason)) }
            return .failed(TaskFailure(thrown: error))
        }
    }
}
