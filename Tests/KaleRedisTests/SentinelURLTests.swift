import KaleRedis
import Testing

@Suite struct SentinelURLTests {
    @Test func aSentinelURLNamesEverySentinelTheMasterAndItsDatabase() throws {
        let url = try RedisURL(parsing: "redis+sentinel://app:s3cret@10.0.0.1:26379,10.0.0.2,[::1]:26380/orders/2")
        #expect(url.endpoint == .sentinel(nodes: [.init(host: "10.0.0.1", port: 26379), .init(host: "10.0.0.2", port: 26379),
                                                  .init(host: "::1", port: 26380)], master: "orders"))
        #expect(url.user == "app")
        #expect(url.password == "s3cret")
        #expect(url.database == 2)
        #expect(url.sentinelUser == nil && url.sentinelPassword == nil)
    }

    @Test func sentinelCredentialsAreSeparateFromTheMasters() throws {
        let url = try RedisURL(parsing: "redis+sentinel://:masterpw@h:26379/m?sentinel_user=watch&sentinel_password=sen%26tinel")
        #expect(url.password == "masterpw" && url.user == nil)
        #expect(url.sentinelUser == "watch")
        #expect(url.sentinelPassword == "sen&tinel")
        #expect(url.database == 0)
    }

    @Test func neitherPasswordIsPrintedButBothSurviveTheTripToAChild() throws {
        let text = "redis+sentinel://app:p%40ss@h1:1,h2:2/m/3?sentinel_user=s&sentinel_password=q%3Fw"
        let url = try RedisURL(parsing: text)
        #expect(url.description == "redis+sentinel://app:***@h1:1,h2:2/m/3?sentinel_user=s&sentinel_password=***")
        #expect(!url.description.contains("p@ss") && !url.description.contains("q?w"))
        #expect(try RedisURL(parsing: url.connectionString) == url)
        #expect(RedisURL.redact("redis+sentinel://h:1/m?sentinel_password=one&password=two") == "redis+sentinel://h:1/m?sentinel_password=***&password=***")
    }

    @Test func malformedSentinelURLsAreRefusedWithTheReason() {
        func reason(_ text: String) -> String {
            do {
                _ = try RedisURL(parsing: text)
                return "parsed"
            } catch let error as RedisError {
                #expect(error.code == .invalidURL)
                #expect(!error.detail.contains("hunter2"))
                return error.detail
            } catch {
                return "\(error)"
            }
        }
        #expect(reason("redis+sentinel://h1:26379,h2:26379").contains("missing master name"))
        #expect(reason("redis+sentinel://h1:26379/").contains("missing master name"))
        #expect(reason("redis+sentinel://h1:99999/m").contains("port '99999'"))
        #expect(reason("redis+sentinel://h1,,h2/m").contains("missing host"))
        #expect(reason("redis+sentinel://:hunter2@h1/m/x").contains("database 'x'"))
        #expect(reason("redis+sentinel://h1/m/1/2").contains("too many path segments"))
    }
}
