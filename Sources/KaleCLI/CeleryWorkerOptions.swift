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

    @Option(name: .customLong("celery-broker-prefix"),
            help: ArgumentHelp("Celery's broker_transport_options global_keyprefix.", valueName: "prefix"))
    var brokerPrefix: String = ""

    @Option(name: .customLong("celery-result-prefix"),
            help: ArgumentHelp("Celery's result_backend_transport_options global_keyprefix.", valueName: "prefix"))
    var resultPrefix: String = ""

    @Option(name: .customLong("celery-result-expires"),
            help: ArgumentHelp("Celery's result_expires in seconds (default 86400; 0 = never).", valueName: "seconds"))
    var resultExpires: Int = 86_400

    @Option(name: .customLong("celery-retries"),
            help: "Retries of a failing Celery task whose type sets none (default 0, as Celery).")
    var retries: Int = 0

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
    }

    func configuration() -> CeleryConfiguration? {
        guard queues != nil else { return nil }
        return CeleryConfiguration(queues: names(), brokerKeyPrefix: brokerPrefix, resultKeyPrefix: resultPrefix,
                                   resultExpires: resultExpires, maxRetries: retries)
    }
}
