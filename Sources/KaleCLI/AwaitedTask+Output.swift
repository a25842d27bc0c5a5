import Kale

/// How `kale enqueue --wait` prints each awaited task.

extension AwaitedTask {
    var json: JSONValue {
        guard let info else { return .object(["id": .string(ref.id), "queue": .string(ref.queue), "state": .string("missing")]) }
        return info.json(timedOut: timedOut)
    }

    var line: String {
        guard let info else { return "\(ref.id) missing" }
        return timedOut ? "\(ref.id) \(info.state.rawValue) (did not end in time)" : info.line
    }
}
