import Foundation
import Kale
import KaleCLI

extension TaskListing {
    /// `GET /api/queues/:q/tasks`: a page of task objects (the CLI's shape) with where it sits.
    var json: JSONValue {
        var o: [String: JSONValue] = [
            "queue": .string(queue), "state": .string(state.rawValue), "total": .number(Double(total)),
            "offset": .number(Double(offset)), "examined": .number(Double(examined)),
            "tasks": .array(entries.map { e in
                guard case .object(var t)? = e.task?.json() else {
                    return .object(["id": .string(e.id), "queue": .string(queue), "position": .number(Double(e.position)), "missing": .bool(true)])
                }
                t["position"] = .number(Double(e.position))
                if let score = e.score { t["score_at"] = .string(Format.iso(score)) }
                return .object(t)
            }),
        ]
        if let nextOffset { o["next_offset"] = .number(Double(nextOffset)) }
        if let nameContains { o["name_contains"] = .string(nameContains) }
        if hitExamineLimit { o["hit_examine_limit"] = .bool(true) }
        return .object(o)
    }
}
