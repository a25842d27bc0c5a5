import Foundation
import Kale
import Synchronization

/// The ends of a pool's child processes: kept for the registry (the dashboard's "recent
/// deaths"), handed once each to the event stream, and counted for metrics.
final class ChildExits: Sendable {
    /// Why a child was replaced. The raw values are the `cause` label of
    /// `kale_child_restarts_total` and the `x` of a `child_died` event: a fixed set.
    enum Cause: String, Sendable {
        case crashed, exited
        case timeLimit = "time_limit", softTimeLimit = "soft_time_limit", memoryLimit = "memory_limit"
        /// Killed to stop a cancelled task that would not stop.
        case cancelled
        /// Killed by a cold shutdown of the worker.
        case shutdown
        /// Recycled after `--max-tasks-per-child` tasks.
        case maxTasks = "max_tasks"
        /// Recycled over the memory ceiling between tasks.
        case memory
        /// Died while idle, found before the next task.
        case idle
    }

    struct Exit: Sendable, Hashable {
        var slot: Int
        var pid: Int32
        var cause: Cause
        var taskID: String?
        var at: Date
    }

    private struct State {
        var recent: [Exit] = []
        var unsent: [Exit] = []
    }

    private let state = Mutex(State())
    private let keep = 10

    /// The cause of a death from how the run ended (nil: the child died between tasks).
    static func cause(of failure: TaskFailure?) -> Cause {
        switch failure?.kind {
        case .timeLimit?: return .timeLimit
        case .softTimeLimit?: return .softTimeLimit
        case .memoryLimit?: return .memoryLimit
        case .cancelled? where failure?.type == "WorkerShutdown": return .shutdown
        case .cancelled?: return .cancelled
        case .exited?: return .exited
        case nil: return .idle
        default: return .crashed
        }
    }

    func record(_ exit: Exit) {
        state.withLock { s in
            s.recent.append(exit)
            if s.recent.count > keep { s.recent.removeFirst(s.recent.count - keep) }
            // Bounded too: a Redis outage must not grow this without end.
            s.unsent.append(exit)
            if s.unsent.count > 100 { s.unsent.removeFirst(s.unsent.count - 100) }
        }
    }

    /// The last few exits, oldest first.
    var recent: [Exit] { state.withLock { $0.recent } }

    /// Exits not yet written to the event stream; each is handed out once.
    func takeUnsent() -> [Exit] { state.withLock { s in defer { s.unsent = [] }; return s.unsent } }

    /// Gives back exits whose write failed, to be sent with the next beat.
    func putBack(_ exits: [Exit]) { state.withLock { $0.unsent = exits + $0.unsent } }
}
