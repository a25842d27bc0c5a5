import Foundation
import KaleRedis

extension KaleClient {
    /// Adds schedule `definition`, or replaces the one of the same name. The firing leader
    /// picks the change up within a second, without a restart.
    ///
    /// A replacement that fires differently (another task, timing, input, queue) counts its
    /// ticks from now on (from a second on, for a move to another queue), as does one that
    /// resumes a paused schedule; one that only changes bookkeeping keeps its place.
    /// - Throws: ``KaleError`` `.invalidOptions` for a bad name, task or queue, ``RedisError``.
    public func addSchedule(_ definition: ScheduleDefinition) async throws {
        try definition.validate()
        var definition = definition
        // Only a definition that verifies lends its place (a signing client must not carry a
        // hand-written `since` into what it signs); one that does not is simply replaced.
        if let old = try? await verifiedSchedule(named: definition.name) {
            if old.firesLike(definition), old.paused == definition.paused || definition.paused {
                definition.since = old.since
            } else if old.queue != definition.queue {
                // The state of a schedule lives in its queue's slot, so the new queue's knows
                // no tick: one the leader fires on the old queue before it reloads (within a
                // second) must not fire again on the new one.
                definition.since = max(definition.since, Broker.now() + 1000)
            }
        }
        try await changeSchedules([RedisCommand("HSET", keys.schedules, definition.name, try stored(definition))])
    }

    /// Removes schedule `name`; its ticks stop within a second. Tasks it enqueued stay.
    /// - Returns: false when there was none.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func removeSchedule(_ name: String) async throws -> Bool {
        try await changeSchedules([RedisCommand("HDEL", keys.schedules, name)]).first?.int == 1
    }

    /// Pauses or resumes schedule `name`. Ticks that pass while it is paused are never fired;
    /// a resumed schedule fires its next tick from now on.
    /// - Returns: false when there is no such schedule.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func setSchedule(_ name: String, paused: Bool) async throws -> Bool {
        // Verified before it is signed again: a client with keys must not lend its signature
        // to a definition someone wrote by hand.
        guard var definition = try await verifiedSchedule(named: name) else { return false }
        if definition.paused != paused {
            definition.paused = paused
            if !paused { definition.since = Broker.now() }
            try await changeSchedules([RedisCommand("HSET", keys.schedules, name, try stored(definition))])
        }
        return true
    }

    /// The definition of schedule `name`, or nil.
    /// - Throws: ``RedisError``, or a decoding error for a definition written by hand.
    public func schedule(named name: String) async throws -> ScheduleDefinition? {
        guard let json = try await redis.send("HGET", keys.schedules, name).string else { return nil }
        return try JSONDecoder().decode(ScheduleDefinition.self, from: Data(json.utf8))
    }

    /// Every schedule with its firing state, by name. Definitions that do not decode are
    /// left out (and never fired).
    /// - Throws: ``RedisError``.
    public func schedules(now: Int64 = Broker.now()) async throws -> [ScheduleStatus] {
        let definitions = try await scheduleDefinitions().sorted { $0.name < $1.name }
        guard !definitions.isEmpty else { return [] }
        let replies = try await redis.pipeline(definitions.map {
            RedisCommand("HMGET", keys.scheduleState($0.queue, $0.name), "last", "last_id", "last_fired_at", "fired", "refused", "fenced", "skipped")
        })
        return zip(definitions, replies).map { d, r in ScheduleStatus(definition: d, state: r.array ?? [], now: now) }
    }

    /// Every stored definition that decodes.
    public func scheduleDefinitions() async throws -> [ScheduleDefinition] {
        let fields = try await redis.send("HGETALL", keys.schedules).hash ?? [:]
        return fields.values.compactMap { try? JSONDecoder().decode(ScheduleDefinition.self, from: Data($0.utf8)) }
    }

    /// The definition of schedule `name` as ``verifiedScheduleDefinitions()`` reads it, or nil.
    /// - Throws: ``MessageRefused`` for one that does not verify, ``RedisError``.
    public func verifiedSchedule(named name: String) async throws -> ScheduleDefinition? {
        guard let json = try await redis.send("HGET", keys.schedules, name).string else { return nil }
        return try verifiedDefinition(name, json)
    }

    /// Every stored definition that decodes and, for a client whose format verifies
    /// signatures, was signed as this schedule's by a key it holds: what a leader fires.
    /// `refused` names the others with the reason (`BadSignature: …`, or why it does not decode).
    public func verifiedScheduleDefinitions() async throws -> (definitions: [ScheduleDefinition], refused: [String: String]) {
        let fields = try await redis.send("HGETALL", keys.schedules).hash ?? [:]
        var definitions: [ScheduleDefinition] = [], refused: [String: String] = [:]
        for (name, json) in fields {
            do { definitions.append(try verifiedDefinition(name, json)) }
            catch { refused[name] = "\(error)" }
        }
        return (definitions, refused)
    }

    /// Definition `json`, stored under `name`, as the client's format verifies it.
    private func verifiedDefinition(_ name: String, _ json: String) throws -> ScheduleDefinition {
        let plain = try configuration.format.verify(document: Array(json.utf8), context: Self.scheduleContext(name))
        let definition = try JSONDecoder().decode(ScheduleDefinition.self, from: Data(plain))
        guard definition.name == name else {
            throw MessageRefused(type: "BadDefinition", reason: "the definition stored as '\(name)' names schedule '\(definition.name)'")
        }
        return definition
    }

    /// What a definition's signature binds it to: its name, so it verifies under no other.
    static func scheduleContext(_ name: String) -> String { "schedule:\(name)" }

    /// `definition` as stored: signed as `schedule:<name>` by a client that signs.
    private func stored(_ definition: ScheduleDefinition) throws -> String {
        let bytes = try configuration.format.sign(document: Array(definition.json.utf8), context: Self.scheduleContext(definition.name))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The version of the definitions: it moves with every change.
    public func schedulesVersion() async throws -> Int {
        try await redis.send("GET", keys.schedulesVersion).string.flatMap { Int($0) } ?? 0
    }

    /// Enqueues schedule `name`'s task now, outside its timing (its ticks go on as before).
    /// `defaults` are the task's registered options (a worker's registry); the schedule's
    /// queue wins over them.
    /// - Returns: nil when there is no such schedule.
    /// - Throws: as ``enqueue(name:args:options:)``.
    public func runScheduleNow(_ name: String, defaults: EnqueueOptions = EnqueueOptions()) async throws -> TaskRef? {
        // Verified as a leader's ticks are: the task this makes is signed by this client.
        guard let d = try await verifiedSchedule(named: name) else { return nil }
        var options = EnqueueOptions(queue: d.queue).merged(over: defaults)
        options.headers["kale-schedule"] = d.name
        return try await enqueue(name: d.task, args: d.args, options: options)
    }

    /// What a try to fire a tick did.
    public enum FireOutcome: Sendable, Hashable {
        /// The tick's task was created, with this id (empty for a skipped tick).
        case fired(String)
        /// The tick was fired before (by this or another worker): nothing was created.
        case duplicate
        /// A leader with a newer fencing token fired this schedule: this caller is no longer
        /// the leader.
        case fenced
    }

    /// Fires tick `tick` (ms) of `definition` under fencing token `fence`: records the tick
    /// and creates its task in one step (``Scripts/fire``). Safe to call from anywhere, any
    /// number of times: at most one call per tick creates a task. With `skip` the tick is
    /// recorded as passed without a task. `defaults` as in ``runScheduleNow(_:defaults:)``.
    /// - Throws: ``KaleError`` for options that do not make a task, ``RedisError``.
    public func fire(_ definition: ScheduleDefinition, tick: Int64, fence: Int, skip: Bool = false,
                     defaults: EnqueueOptions = EnqueueOptions(), now: Int64 = Broker.now()) async throws -> FireOutcome {
        var options = EnqueueOptions(queue: definition.queue).merged(over: defaults)
        options.id = definition.taskID(tick: tick)
        options.headers["kale-schedule"] = definition.name
        options.uniqueKey = nil
        // A skip creates nothing: no input to encode, so a definition that cannot make a task
        // (its input is over the size limit) can still have its ticks passed over.
        let prepared = try prepare(name: definition.task, args: skip ? .null : definition.args, options: options, now: now)
        let (k, a) = broker.creation(prepared.envelope, message: prepared.message, uniqueTTL: nil, now: now)
        var commands: [RedisCommand] = []
        if let announce = registration(for: definition.queue, now: now) { commands.append(announce) }
        commands.append(Scripts.fire.command(keys: k + [keys.scheduleState(definition.queue, definition.name)],
                                             arguments: [tick, fence, skip ? "skip" : "fire"] + a))
        let replies = try await redis.pipeline(commands)
        guard let reply = replies.last else { throw RedisError(.unexpectedReply, detail: "no reply to fire") }
        if case .error(let message) = reply { throw RedisError(serverReply: message, to: commands[commands.count - 1], user: redis.configuration.url.user) }
        let parts = reply.array ?? []
        guard parts.count == 2 else { throw RedisError(.unexpectedReply, detail: "fire script returned \(reply)") }
        if parts[0].int == 1 { return .fired(parts[1].string ?? "") }
        guard parts[1].string == "fenced" else { return .duplicate }
        // The fencing counter behind a fence this schedule saw (the counter's key was lost):
        // raise it, or every new leader would be fenced off for good.
        if let seen = try await redis.send("HGET", keys.scheduleState(definition.queue, definition.name), "fence").string.flatMap(Int.init) {
            try await broker.raiseFence(to: seen)
        }
        return .fenced
    }

    /// Runs `commands` with a bump of the version, in one transaction; returns their replies.
    @discardableResult
    private func changeSchedules(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        let replies = try await redis.checkedPipeline([RedisCommand("MULTI")] + commands + [RedisCommand("INCR", keys.schedulesVersion), RedisCommand("EXEC")])
        return Array((replies.last?.array ?? []).dropLast())
    }
}
