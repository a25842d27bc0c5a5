import Foundation

/// Stored as a JSON object in ``Keys/schedules``:
/// `{"name","task","timing":{…},"args":{…},"queue","catch_up","paused","since","origin"}`.
extension ScheduleDefinition: Codable {
    private enum CodingKeys: String, CodingKey {
        case name, task, timing, args, queue, paused, since, origin
        case catchUp = "catch_up"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        task = try c.decode(String.self, forKey: .task)
        timing = try c.decode(ScheduleTiming.self, forKey: .timing)
        args = try c.decodeIfPresent(JSONValue.self, forKey: .args) ?? .object([:])
        queue = try c.decodeIfPresent(String.self, forKey: .queue) ?? "default"
        catchUp = try c.decodeIfPresent(CatchUp.self, forKey: .catchUp) ?? .none
        paused = try c.decodeIfPresent(Bool.self, forKey: .paused) ?? false
        since = try c.decodeIfPresent(Int64.self, forKey: .since) ?? 0
        origin = try c.decodeIfPresent(DefinitionOrigin.self, forKey: .origin) ?? .runtime
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(task, forKey: .task)
        try c.encode(timing, forKey: .timing)
        try c.encode(args, forKey: .args)
        try c.encode(queue, forKey: .queue)
        try c.encode(catchUp, forKey: .catchUp)
        try c.encode(paused, forKey: .paused)
        try c.encode(since, forKey: .since)
        try c.encode(origin, forKey: .origin)
    }

    /// The stored JSON text.
    var json: String { storedJSON(self) }
}
