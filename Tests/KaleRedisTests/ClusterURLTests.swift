import KaleRedis
import Testing

@Suite struct ClusterURLTests {
    @Test func seedsAndCredentialsParse() throws {
        let url = try RedisURL(parsing: "redis+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002")
        #expect(url.endpoint == .cluster(nodes: [.init(host: "10.0.0.1", port: 7000), .init(host: "10.0.0.2", port: 6379), .init(host: "::1", port: 7002)]))
        #expect(url.user == "app")
        #expect(url.password == "s@cret")
        #expect(url.isCluster)
        #expect(url.description == "redis+cluster://app:***@10.0.0.1:7000,10.0.0.2:6379,[::1]:7002")
        // Worker children get the URL through their environment: it must parse back whole.
        #expect(try RedisURL(parsing: url.connectionString) == url)
        #expect(url.clusterNode(.init(host: "10.0.0.9", port: 7005)).description == "redis://app:***@10.0.0.9:7005/0")
    }

    @Test func aDatabaseOtherThanZeroIsRefused() {
        for text in ["redis+cluster://:hunter2@h1:7000/1", "redis+cluster://h1:7000?db=2", "redis+cluster://h1:7000,,h2"] {
            do {
                _ = try RedisURL(parsing: text)
                Issue.record("\(text) parsed")
            } catch let error as RedisError {
                #expect(error.code == .invalidURL)
                #expect(!error.detail.contains("hunter2"))
            } catch { Issue.record("\(error)") }
        }
        #expect((try? RedisURL(parsing: "redis+cluster://h1:7000/0")) != nil)
    }
}
