package import ArgumentParser
import Foundation
package import Kale
package import KaleRedis
import KaleSealing
import Logging

/// Options every command that talks to Redis accepts.
package struct GlobalOptions: ParsableArguments {
    package init() {}

    @Option(name: .long, help: ArgumentHelp("Redis URL (redis://[user:pass@]host:port/db or unix:///path).", valueName: "url"))
    package var redis: String?

    @Option(name: .long, help: ArgumentHelp("Key prefix of this Kale installation.", valueName: "prefix"))
    package var prefix: String = "kale"

    package func validate() throws {
        // Keys(prefix:) treats a bad prefix as a programmer error; here it is user input.
        if prefix.isEmpty || prefix.contains("{") || prefix.contains("}") {
            throw ValidationError("--prefix must be non-empty and free of '{' and '}'")
        }
    }

    /// The URL from `--redis`, else `KALE_REDIS_URL`, else the local default.
    package func redisURL() throws -> RedisURL {
        let text = redis ?? ProcessInfo.processInfo.environment[RedisURL.environmentKey] ?? RedisURL.fallback
        do { return try RedisURL(parsing: text) }
        catch let e as RedisError { throw CLIFailure.usage(e.detail, hint: "example: --redis redis://127.0.0.1:6379/0") }
    }

    package func kaleConfiguration(poolSize: Int = 4) throws -> KaleConfiguration {
        var redisConfig = RedisConfiguration(url: try redisURL(), poolSize: poolSize)
        redisConfig.clientName = "kale-cli"
        var configuration = KaleConfiguration(redis: redisConfig, keys: Keys(prefix: prefix))
        try GlobalOptions.applyObservationEnvironment(to: &configuration)
        try GlobalOptions.applyReplicationEnvironment(to: &configuration)
        try GlobalOptions.applySigningEnvironment(to: &configuration)
        return configuration
    }

    /// `KALE_SIGNING_KEYS` (`id:base64key[,…]`): sign every message written, run only signed
    /// ones, and encrypt the tasks that ask; `KALE_CELERY_UNSIGNED=accept` lets a worker run
    /// Celery's unsigned messages all the same (docs/security.md).
    static func applySigningEnvironment(to configuration: inout KaleConfiguration,
                                        environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let keys: SigningKeys?
        do { keys = try SigningKeys.fromEnvironment(environment) }
        catch { throw CLIFailure.usage("\(error)", hint: "KALE_SIGNING_KEYS=id:base64key[,id:base64key…]; make a key with: openssl rand -base64 32") }
        guard let keys else { return }
        let celery = environment["KALE_CELERY_UNSIGNED"]
        guard celery == nil || celery == "accept" || celery == "refuse" else {
            throw CLIFailure.usage("KALE_CELERY_UNSIGNED must be accept or refuse, not '\(celery!)'",
                                   hint: "accept runs Celery's unsigned messages on a signing worker; refuse (the default) dead-letters them")
        }
        configuration.format = SealedFormat(keys: keys, inner: configuration.format, acceptUnsignedCelery: celery == "accept")
    }

    /// `KALE_REPLICAS` (replicas that must hold each enqueue and result, 0 for none) and
    /// `KALE_REPLICA_TIMEOUT` (default 1s): docs/high-availability.md.
    static func applyReplicationEnvironment(to configuration: inout KaleConfiguration,
                                            environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let timeout: Duration
        if let text = environment["KALE_REPLICA_TIMEOUT"] {
            guard let d = DurationArgument(argument: text), d.duration >= .milliseconds(1) else {
                throw CLIFailure.usage("KALE_REPLICA_TIMEOUT must be a duration of 1ms or more, not '\(text)'",
                                       hint: DurationArgument.formats)
            }
            timeout = d.duration
        } else {
            timeout = .seconds(1)
        }
        guard let text = environment["KALE_REPLICAS"] else { return }
        guard let n = Int(text), (0...100).contains(n) else {
            throw CLIFailure.usage("KALE_REPLICAS must be a number of replicas from 0 to 100, not '\(text)'",
                                   hint: "KALE_REPLICAS=1 waits for one replica after each enqueue and result; 0 or unset waits for none")
        }
        configuration.replication = n == 0 ? nil : Replication(replicas: n, timeout: timeout)
    }

    /// `KALE_HISTORY` (`on`/`off`), `KALE_EVENTS` (`on`, `all`, `off`) and `KALE_EVENTS_LENGTH`: a
    /// deployment's switches for what its producers and workers write (docs/observability.md).
    static func applyObservationEnvironment(to configuration: inout KaleConfiguration,
                                            environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if let text = environment["KALE_HISTORY"]?.lowercased() {
            switch text {
            case "on", "1", "true", "yes": configuration.history = true
            case "off", "0", "false", "no": configuration.history = false
            default: throw CLIFailure.usage("KALE_HISTORY must be on or off, not '\(text)'")
            }
        }
        if let text = environment["KALE_EVENTS_LENGTH"] {
            guard let n = Int(text), n > 0, n <= 10_000_000 else {
                throw CLIFailure.usage("KALE_EVENTS_LENGTH must be a stream length (1…10000000), not '\(text)'")
            }
            configuration.eventStreamLength = n
        }
        if let text = environment["KALE_EVENTS"]?.lowercased() {
            switch text {
            case "off", "0", "false", "no": configuration.eventStreamLength = 0
            case "on", "1", "true", "yes": configuration.recordAllEvents = false
            case "all": configuration.recordAllEvents = true
            default: throw CLIFailure.usage("KALE_EVENTS must be on, all or off, not '\(text)'")
            }
        }
    }

    /// A client, after checking that Redis answers (so a bad URL fails fast with exit 3).
    package func client() async throws -> KaleClient {
        GlobalOptions.quietLogging
        let client = KaleClient(configuration: try kaleConfiguration())
        _ = try await client.redis.send("PING")
        return client
    }
}

extension GlobalOptions {
    /// Commands other than `worker` report trouble in their own words (one error line, or a
    /// watch frame that says Redis is unreachable); the Redis layer's reconnect warnings would
    /// only repeat it. Logging can be bootstrapped once per process, so `worker`, which sets
    /// its own level, never calls this.
    package static let quietLogging: Void = {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
    }()
}

/// Parses `250ms`, `30s`, `5m`, `2h` and plain (fractional) seconds, up to ``limit``.
struct DurationArgument: ExpressibleByArgument, Sendable {
    var duration: Duration

    /// The longest duration accepted: more is a typo, and `1e300` would not fit in the
    /// milliseconds a Duration is built from.
    static let limitMilliseconds: Double = 10 * 365.25 * 86_400 * 1000
    /// How a duration is written, for error hints (the CLI's and the dashboard API's).
    static let formats = "durations look like 250ms, 30s, 5m, 2h or plain seconds, at most 10 years"

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        let (number, scale) = units.first { text.hasSuffix($0.0) }.map { (String(text.dropLast($0.0.count)), $0.1) } ?? (text, 1)
        guard let v = Double(number), v >= 0 else { return nil }
        let ms = (v * scale * 1000).rounded()
        // Int64(exactly:) cannot trap; the limit keeps every later date arithmetic in range.
        guard ms <= Self.limitMilliseconds, let whole = Int64(exactly: ms) else { return nil }
        duration = .milliseconds(whole)
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
