import Foundation
import Hummingbird
import Kale
import KaleCLI

extension Dashboard {
    /// The longest `wait` a `POST /api/tasks` may ask for.
    static let maxWait: Double = 300

    /// `POST /api/tasks`: one task from a JSON object, checked by `kale enqueue`'s own code
    /// (the fields become its arguments, see ``EnqueueRequest``), optionally awaited. A task in
    /// ``registry`` gets its declared defaults for the fields left out.
    ///
    /// Answers 201 `{"id","queue","created"}`; with `wait`, 200 and the task object once it
    /// ended, or 202 and the task object with `"timed_out": true`.
    func enqueue(_ visit: Visit) async throws -> Response {
        guard let object = visit.jsonObject else {
            let problem = (try? JSONValue(parsing: Data(visit.body))) == nil ? "is not valid JSON" : "is not a JSON object"
            throw BadRequest("the body \(problem): send {\"name\": \"…\", \"args\": {…}} with Content-Type: application/json")
        }
        let (arguments, wait) = try Self.enqueueArguments(object)
        let request: EnqueueRequest
        do { request = try EnqueueRequest(arguments: arguments, registry: registry) }
        catch let e as EnqueueRequest.Invalid { throw BadRequest(Self.apiWording(e.message)) }
        let ref = try await client.enqueue(name: request.name, args: request.args, options: request.options)
        let created = JSONValue.object(["id": .string(ref.id), "queue": .string(ref.queue), "created": .bool(ref.created)])
        guard let wait else { return Reply.json(created, status: .created) }
        do {
            let info = try await client.wait(for: ref.id, queue: ref.queue, timeout: .milliseconds(Int64(wait * 1000)))
            return Reply.json(info.json())
        } catch let e as KaleError where e.code == .timeout {
            guard let info = try await client.status(of: ref.id, queue: ref.queue) else { return Reply.json(created, status: .accepted) }
            return Reply.json(info.json(timedOut: true), status: .accepted)
        }
    }

    /// The JSON field names and the `kale enqueue` flags they become.
    static let enqueueFlags: [String: String] = [
        "queue": "--queue", "priority": "--priority", "delay": "--delay", "eta": "--eta", "expires": "--expires",
        "max_retries": "--retries", "time_limit": "--time-limit", "soft_time_limit": "--soft-time-limit", "unique": "--unique",
        "unique_ttl": "--unique-ttl", "id": "--id", "args_json": "--args",
    ]

    /// `kale enqueue`'s arguments for `object`, and the wait in seconds. Unknown keys and
    /// mistyped values are refused here; everything else is `kale enqueue`'s to judge.
    static func enqueueArguments(_ object: [String: JSONValue]) throws -> ([String], Double?) {
        var arguments: [String] = []
        var name: String?
        var wait: Double?
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            switch (key, value) {
            case ("name", .string(let s)): name = s
            case ("args", _): arguments.append("--args=" + value.jsonString)
            case ("wait", .number(let n)):
                guard n >= 0, n <= maxWait else { throw BadRequest("wait must be 0 to \(Int(maxWait)) seconds") }
                wait = n
            case ("max_retries", .number(let n)):
                // Int(exactly:) is nil for fractions and for what no Int holds (1e300), where Int() traps.
                guard let retries = Int(exactly: n) else { throw BadRequest("max_retries must be a whole number, 0 or more") }
                arguments.append("--retries=" + String(retries))
            case ("delay", .number(let n)), ("expires", .number(let n)), ("time_limit", .number(let n)),
                 ("soft_time_limit", .number(let n)), ("unique_ttl", .number(let n)):
                arguments.append(enqueueFlags[key]! + "=" + String(n))
            case (_, .string(let s)) where enqueueFlags[key] != nil && key != "max_retries":
                arguments.append(enqueueFlags[key]! + "=" + s)
            default:
                if key == "name" || key == "wait" || enqueueFlags[key] != nil { throw BadRequest("\(key) has the wrong type") }
                throw BadRequest("unknown field '\(key)' (known: name, args, args_json, wait, " + enqueueFlags.keys.sorted().joined(separator: ", ") + ")")
            }
        }
        if object["args"] != nil, object["args_json"] != nil { throw BadRequest("give args or args_json, not both") }
        guard let name else { throw BadRequest("name (the task name, a string) is required") }
        // After `--` the name is never read as a flag, whatever it starts with.
        return (arguments + ["--", name], wait)
    }

    /// `kale enqueue`'s messages name its flags; the API's callers know the JSON fields.
    static func apiWording(_ message: String) -> String {
        var text = message
        for (field, flag) in enqueueFlags.sorted(by: { $0.value.count > $1.value.count }) {
            text = text.replacingOccurrences(of: "'\(flag)'", with: "'\(field)'").replacingOccurrences(of: flag + " ", with: field + " ")
                .replacingOccurrences(of: flag + ":", with: field + ":")
        }
        return text
    }
}
