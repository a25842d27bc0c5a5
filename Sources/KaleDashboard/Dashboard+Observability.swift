import Kale

// What the dashboard shows of the worker-side observability (history buckets, the event
// stream, per-child details). Those are written by the workers and read through KaleClient
// APIs that are landing on main separately (decision 0018); until this branch merges them,
// the pages say so instead of showing charts, events and children.
extension Dashboard {
    /// The overview's charts panel.
    func charts(_ queues: [String]) async throws -> HTML {
        HTML(raw: "<section class=\"panel\"><h2>History</h2><p class=\"note\">Throughput and run-time charts need the workers' history buckets, which this build does not read yet.</p></section>")
    }

    /// `history` in `/api/overview`.
    func historyJSON(_ queues: [String]) async throws -> JSONValue { .array([]) }

    /// The task page's events panel.
    func eventsSection(for info: TaskInfo) async throws -> HTML { HTML(raw: "") }

    /// `GET /api/events`.
    func eventsJSON(_ query: FormFields) async throws -> [JSONValue] { [] }

    /// A worker's children and recent child deaths on the workers page.
    static func workerDetails(_ worker: WorkerInfo) -> HTML { HTML(raw: "") }
}
