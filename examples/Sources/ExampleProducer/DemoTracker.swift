import ExampleContracts
import Foundation
import Kale
import KaleExamples

/// Follows the demo's tasks to their end: prints each one as it finishes (woken by Kale's
/// result notifications, not by polling) and, every second, what is still running.
final class DemoTracker {
    let client: KaleClient
    let outDir: String
    let timeout: Duration
    private(set) var finished = 0
    private var total = 0
    private var pending: [String: DemoJob] = [:]
    private let start = ContinuousClock.now

    init(client: KaleClient, outDir: String, timeout: Duration) {
        self.client = client
        self.outDir = outDir
        self.timeout = timeout
    }

    private enum Event: Sendable {
        case ended(DemoJob, TaskInfo)
        case tick
    }

    /// Waits for every job (and the follow-up jobs of each report); returns how many failed.
    func follow(_ jobs: [DemoJob]) async throws -> Int {
        var failures = 0
        let client = self.client, timeout = self.timeout
        try await withThrowingTaskGroup(of: Event.self) { group in
            func watch(_ job: DemoJob) {
                pending[job.id] = job
                total += 1
                group.addTask { .ended(job, try await client.wait(for: job.id, queue: job.queue, timeout: timeout)) }
            }
            func tick() {
                group.addTask {
                    try? await Task.sleep(for: .seconds(1))
                    return .tick
                }
            }
            jobs.forEach(watch)
            tick()
            while let event = try await group.next() {
                switch event {
                case .tick:
                    guard !pending.isEmpty else { continue }
                    try await printProgress()
                    tick()
                case .ended(let job, let info):
                    pending[job.id] = nil
                    finished += 1
                    if info.state != .succeeded { failures += 1 }
                    print(line(job, info))
                    if info.state == .succeeded, job.task == TaskNames.report, let report = try? info.output(as: ReportOutput.self) {
                        for next in try await followUps(of: report, job) { watch(next) }
                    }
                    if pending.isEmpty { group.cancelAll() }
                }
            }
        }
        return failures
    }

    /// A preview of the first page and the text of each finished report.
    private func followUps(of report: ReportOutput, _ job: DemoJob) async throws -> [DemoJob] {
        let name = URL(fileURLWithPath: report.output).lastPathComponent
        let preview = try await client.enqueue(PreviewTask.self, PreviewInput(input: report.output, page: 1, width: 600, outputDir: outDir))
        let text = try await client.enqueue(TextTask.self, TextInput(input: report.output))
        return [
            DemoJob(task: TaskNames.preview, label: "\(name) page 1 → PNG", id: preview.id, queue: preview.queue),
            DemoJob(task: TaskNames.text, label: "\(name) → text", id: text.id, queue: text.queue),
        ]
    }

    private func printProgress() async throws {
        var running: [String] = []
        for job in pending.values where job.task == TaskNames.report {
            guard let info = try await client.status(of: job.id, queue: job.queue), info.state == .started else { continue }
            guard let progress = info.progress else {
                // `started` means leased: with prefetch, a task waits in the worker for a
                // free child until it first reports progress.
                running.append("\(job.label) leased, waiting for a free child")
                continue
            }
            running.append("\(job.label) \(Int((progress * 100).rounded()))%" + (info.progressMessage.map { " (\($0))" } ?? ""))
        }
        let elapsed = String(format: "%5.1fs", (ContinuousClock.now - start).seconds)
        print("  \(elapsed)  … \(finished)/\(total) done" + (running.isEmpty ? "" : "; running: " + running.joined(separator: "; ")))
    }

    private func line(_ job: DemoJob, _ info: TaskInfo) -> String {
        let elapsed = String(format: "%5.1fs", (ContinuousClock.now - start).seconds)
        guard info.state == .succeeded else {
            return "  \(elapsed)  ✗ \(job.task)  \(job.label): \(info.state.rawValue): \(info.error.map { "\($0)" } ?? "no error recorded")"
        }
        let detail: String
        switch job.task {
        case TaskNames.thumbnail, TaskNames.convert:
            let o = try? info.output(as: ImageOutput.self)
            detail = o.map { "\(relative($0.output)) (\($0.width)×\($0.height), \(kib($0.bytes)))" } ?? "?"
        case TaskNames.report:
            let o = try? info.output(as: ReportOutput.self)
            detail = o.map { "\(relative($0.output)) (\($0.pages) pages, \(kib($0.bytes)))" } ?? "?"
        case TaskNames.preview:
            let o = try? info.output(as: PreviewOutput.self)
            detail = o.map { "\(relative($0.output)) (\($0.width)×\($0.height))" } ?? "?"
        case TaskNames.text:
            let o = try? info.output(as: TextOutput.self)
            detail = o.map { t in
                let first = t.text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                return "\(t.pages) pages, \(t.text.count) characters, starting “\(first.prefix(40))”"
            } ?? "?"
        default:
            detail = info.result?.jsonString ?? ""
        }
        return "  \(elapsed)  ✓ \(job.task.padding(toLength: 16, withPad: " ", startingAt: 0)) \(job.label)\n            → \(detail)"
    }

    private func relative(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
    }

    private func kib(_ bytes: Int) -> String { bytes < 1024 ? "\(bytes) B" : "\(bytes / 1024) KiB" }
}
