import KaleRedis
import Testing

@Suite struct RedisURLTests {
    private func parse(_ text: String) throws -> RedisURL { try RedisURL(parsing: text) }

    /// The error thrown for `text`, which must be `.invalidURL`.
    private func invalid(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> RedisError? {
        do {
            let url = try RedisURL(parsing: text)
            Issue.record("'\(text)' parsed as \(url)", sourceLocation: sourceLocation)
        } catch let error as RedisError {
            #expect(error.code == .invalidURL, sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    @Test func hostAloneDefaultsToPort6379AndDatabase0() throws {
        let url = try parse("redis://cache.internal")
        #expect(url.endpoint == .tcp(host: "cache.internal", port: 6379))
        #expect(url.database == 0)
        #expect(url.user == nil)
        #expect(url.password == nil)
    }

    @Test func portAndDatabaseAreRead() throws {
        let url = try parse("redis://127.0.0.1:6380/7")
        #expect(url.endpoint == .tcp(host: "127.0.0.1", port: 6380))
        #expect(url.database == 7)
        #expect(try parse("redis://h/12").database == 12)
        #expect(try parse("redis://h:1").endpoint == .tcp(host: "h", port: 1))
        #expect(try parse("redis://h:65535/0").endpoint == .tcp(host: "h", port: 65535))
    }

    @Test func userAndPasswordAreRead() throws {
        let url = try parse("redis://worker:hunter2@h:7000/1")
        #expect(url.user == "worker")
        #expect(url.password == "hunter2")
        #expect(url.endpoint == .tcp(host: "h", port: 7000))
        #expect(url.database == 1)
    }

    @Test func barePasswordLogsInAsDefaultUser() throws {
        let bare = try parse("redis://hunter2@h")
        #expect(bare.user == nil)
        #expect(bare.password == "hunter2")
        let emptyUser = try parse("redis://:hunter2@h")
        #expect(emptyUser.user == nil)
        #expect(emptyUser.password == "hunter2")
    }

    @Test func credentialsArePercentDecoded() throws {
        let url = try parse("redis://us%40er:p%40ss%3Aw%2Fo%25rd@h:6390")
        #expect(url.user == "us@er")
        #expect(url.password == "p@ss:w/o%rd")
        #expect(url.endpoint == .tcp(host: "h", port: 6390))
        #expect(try parse("redis://:caf%C3%A9@h").password == "café")
    }

    @Test func unencodedSpecialCharactersInPasswordStayInPassword() throws {
        // Everything up to the last '@' is credentials, even '/', '?' and '@'.
        let url = try parse("redis://u:p@ss/w?rd@h:6390/2")
        #expect(url.user == "u")
        #expect(url.password == "p@ss/w?rd")
        #expect(url.endpoint == .tcp(host: "h", port: 6390))
        #expect(url.database == 2)
    }

    @Test func bracketedIPv6HostAndPort() throws {
        let url = try parse("redis://[::1]:6390/2")
        #expect(url.endpoint == .tcp(host: "::1", port: 6390))
        #expect(url.database == 2)
        #expect(try parse("redis://[::1]").endpoint == .tcp(host: "::1", port: 6379))
        #expect(url.description == "redis://[::1]:6390/2")
        #expect(invalid("redis://[::1:6390") != nil)
    }

    @Test func unixSocketWithDatabaseAndCredentials() throws {
        let url = try parse("unix:///run/redis/redis.sock?db=4")
        #expect(url.endpoint == .unix(path: "/run/redis/redis.sock"))
        #expect(url.database == 4)
        let auth = try parse("unix:///tmp/r.sock?user=kale&password=s%26cret&db=1")
        #expect(auth.user == "kale")
        #expect(auth.password == "s&cret")
        #expect(auth.database == 1)
        #expect(auth.description == "unix:///tmp/r.sock?db=1&user=kale&password=***")
        #expect(invalid("unix://relative.sock") != nil)
        #expect(invalid("unix:///tmp/r.sock?db=x") != nil)
    }

    @Test func tlsSchemeIsRefusedWithTunnelAdvice() throws {
        let error = try #require(invalid("rediss://user:hunter2@cache:6380"))
        #expect(error.detail.contains("TLS"))
        #expect(error.detail.contains("tunnel"))
        #expect(!error.description.contains("hunter2"))
    }

    @Test(arguments: ["redis://h:0", "redis://h:65536", "redis://h:abc", "redis://h:", "redis://h:-1"])
    func badPortIsRejected(_ text: String) throws {
        let error = try #require(invalid(text))
        #expect(error.detail.contains("port"))
    }

    @Test(arguments: ["redis://h/abc", "redis://h/-1", "redis://h/1x", "redis://h?db=two"])
    func badDatabaseIsRejected(_ text: String) throws {
        let error = try #require(invalid(text))
        #expect(error.detail.contains("database"))
    }

    @Test(arguments: ["http://h", "h:6379", "redis:/h", "tcp://h:6379"])
    func badSchemeIsRejected(_ text: String) throws {
        let error = try #require(invalid(text))
        #expect(error.detail.contains("scheme"))
    }

    @Test func missingHostIsRejected() {
        #expect(invalid("redis://") != nil)
        #expect(invalid("redis://:6379") != nil)
        #expect(invalid("redis://u:p@:6379") != nil)
    }

    @Test func descriptionHidesPassword() throws {
        let url = try parse("redis://worker:hunter2@h:7000/1")
        #expect(url.description == "redis://worker:***@h:7000/1")
        #expect(try parse("redis://hunter2@h").description == "redis://:***@h:6379/0")
        // Interpolation, debug printing and nesting in a configuration all go through it.
        let configuration = RedisConfiguration(url: url)
        for text in ["\(url)", String(reflecting: url), "\(configuration)", String(reflecting: configuration), "\([url])"] {
            #expect(!text.contains("hunter2"), "\(text)")
        }
    }

    @Test(arguments: [
        "redis://u:hunter2@h:99999", "redis://u:hunter2@h/x", "redis://hunter2@h:0",
        "redis://u:hunter2@", "rediss://u:hunter2@h", "unix://u:hunter2@h", "http://u:hunter2@h",
        "unix:///s?password=hunter2&db=x", "redis://u:hunter2/x@h:0", "redis://u:hunter2?x@h:nope",
    ])
    func errorsNeverShowPassword(_ text: String) throws {
        let error = try #require(invalid(text))
        #expect(!error.description.contains("hunter2"), "\(error)")
        #expect(!error.detail.contains("hunter2"))
    }

    @Test func redactHidesPasswordOfUnparsableText() {
        #expect(RedisURL.redact("redis://u:hunter2@h:x") == "redis://u:***@h:x")
        #expect(RedisURL.redact("redis://hunter2@h") == "redis://***@h")
        #expect(RedisURL.redact("unix:///s?password=hunter2&db=1") == "unix:///s?password=***&db=1")
        #expect(RedisURL.redact("redis://h:6379") == "redis://h:6379")
    }

    @Test func environmentOverridesFallback() throws {
        #expect(try RedisURL.fromEnvironment([:]).endpoint == .tcp(host: "127.0.0.1", port: 6379))
        let url = try RedisURL.fromEnvironment([RedisURL.environmentKey: "redis://cache.internal:7001/3"])
        #expect(url.endpoint == .tcp(host: "cache.internal", port: 7001))
        #expect(url.database == 3)
    }

    @Test func descriptionParsesBackToSameURLWithoutPassword() throws {
        for text in ["redis://h:7000/1", "unix:///tmp/r.sock?db=3", "redis://[::1]:6390/2"] {
            let url = try parse(text)
            #expect(try parse(url.description) == url)
        }
    }
}

@Suite struct RedisURLConnectionStringTests {
    @Test func connectionStringRoundTripsCredentialsWithSpecialCharacters() throws {
        let url = RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 7000), user: "app", password: "p@ss/w:rd?&", database: 2)
        let again = try RedisURL(parsing: url.connectionString)
        #expect(again == url)
        #expect(!url.description.contains("p@ss"))
        let unix = RedisURL(endpoint: .unix(path: "/tmp/r.sock"), user: nil, password: "s&cret", database: 1)
        #expect(try RedisURL(parsing: unix.connectionString) == unix)
    }
}
