import ArgumentParser
import Foundation
import Kale
import KaleCelery

/// `kale worker`'s Celery bridge options: which kombu queues to take over, and how the Celery
/// app is configured (docs/celery.md).
struct CeleryWorkerOptions: ParsableArguments {
    @Option(name: .customLong("celery-queues"),
            help: ArgumentHelp("Take these Celery (kombu) queues over: their tasks run here (a,b).", valueName: "queues"))
    var queues: String?

    @OptionGroup var prefixes: CeleryPrefixOptions

    @Option(name: .customLong("celery-result-expires"),
            help: ArgumentHelp("Celery's result_expires in seconds (default 86400; 0 = never).", valueName: "seconds"))
    var resultExpires: Int = 86_400

    @Option(name: .customLong("celery-retries"),
            help: "Retries of a failing Celery task whose type sets none (default 0, as Celery).")
    var retries: Int = 0

    @Option(name: .customLong("celery-route"),
            help: ArgumentHelp("As Celery's task_routes, for callbacks and chain steps: 'media.*=swift' (repeat).", valueName: "glob=queue"))
    var routes: [String] = []

    @Option(name: .customLong("celery-priority-steps"),
            help: ArgumentHelp("kombu's priority_steps transport option (default 0,3,6,9).", valueName: "steps"))
    var prioritySteps: String?

    @Option(name: .customLong("celery-separator"),
            help: ArgumentHelp("kombu's sep transport option (default \\x06\\x16).", valueName: "sep"))
    var separator: String?

    @Flag(name: .customLong("celery-events"),
          help: "Send Celery's events (heartbeats, task events) so Flower and 'celery events' see this worker.")
    var events = false

    func steps() -> [Int]? {
        prioritySteps.map { $0.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    }

    func names() -> [String] {
        (queues ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        guard queues != nil else { return }
        let list = names()
        if list.isEmpty { throw ValidationError("--celery-queues names no queue") }
        for q in list where !Keys.isValidQueueName(q) {
            throw ValidationError("--celery-queues: '\(q)' is not a valid queue name (letters, digits, '.', '_' or '-')")
        }
        if resultExpires < 0 { throw ValidationError("--celery-result-expires must be 0 or more") }
        if retries < 0 { throw ValidationError("--celery-retries must be 0 or more") }
        for r in routes where CeleryRoute(parsing: r) == nil {
            throw ValidationError("--celery-route '\(r)' is not glob=queue, e.g. 'media.*=swift'")
        }
        if let text = prioritySteps, let steps = steps(),
           steps.isEmpty || steps.count != text.split(separator: ",").count || steps.contains(where: { !(0...9).contains($0) }) {
            throw ValidationError("--celery-priority-steps '\(text)' must be numbers 0-9 separated by commas, e.g. 0,3,6,9")
        }
        if separator?.isEmpty == true { throw ValidationError("--celery-separator must not be empty") }
    }

    func configuration() -> CeleryConfiguration? {
        guard queues != nil else { return nil }
        var c = CeleryConfiguration(queues: names(), brokerKeyPrefix: prefixes.broker, resultKeyPrefix: prefixes.result,
                                    resultExpires: resultExpires, maxRetries: retries)
        c.routes = routes.compactMap(CeleryRoute.init(parsing:))
        if let steps = steps() { c.prioritySteps = steps }
        if let separator { c.separator = separator }
        c.events = events
        return c
    }
}
