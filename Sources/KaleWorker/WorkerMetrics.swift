import Metrics

/// swift-metrics instruments of a worker; a process picks the backend (Prometheus …).
struct WorkerMetrics: Sendable {
    func finished(queue: String, outcome: String, duration: Duration) {
        Counter(label: "kale_tasks_total", dimensions: [("queue", queue), ("outcome", outcome)]).increment()
        if duration > .zero {
            Timer(label: "kale_task_duration_seconds", dimensions: [("queue", queue)])
                .recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        }
    }
}
