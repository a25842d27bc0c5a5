// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Kale",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KaleRedis", targets: ["KaleRedis"]),
        .library(name: "Kale", targets: ["Kale"]),
        .library(name: "KaleCelery", targets: ["KaleCelery"]),
        .library(name: "KaleWorker", targets: ["KaleWorker"]),
        .library(name: "KaleCLI", targets: ["KaleCLI"]),
        .library(name: "KaleSealing", targets: ["KaleSealing"]),
        .library(name: "KaleObservability", targets: ["KaleObservability"]),
        .library(name: "KaleTestSupport", targets: ["KaleTestSupport"]),
        .executable(name: "kale", targets: ["kale"]),
        .executable(name: "kale-bench", targets: ["KaleBench"]),
        .library(name: "KaleDashboard", targets: ["KaleDashboard"]),
        .executable(name: "kale-full", targets: ["kale-full"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        // Prometheus exposition: needs only swift-atomics and swift-metrics, so it stays light
        // enough for every worker binary (decision 0020).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Only KaleDashboard uses it (docs/decisions/0019): no core target or test target
        // links NIO. `traits: []` drops ConfigurationSupport and FullFoundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0", traits: []),
        // The tracing API only (no dependencies of its own): spans cost nothing until a process
        // bootstraps a tracer, which the OTLP exporter (KaleOTel, outside the core) does.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // The OTLP/HTTP exporter, for kale-full only (KaleOTel). Only its OTLPHTTP trait: the
        // default OTLPGRPC would add grpc-swift and its HTTP/2 stack to the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        // HMAC, HKDF and AES-GCM: signed and encrypted messages (KaleSealing, decision 0026)
        // and the dashboard's CSRF tokens. kale-full's graph has it anyway (swift-nio-extras
        // and swift-certificates depend on it); the range is theirs, so resolution never has
        // to choose between them.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"6.0.0"),
        // NIOCore's TimeAmount, the type of Hummingbird's idle timeout; Hummingbird's own range.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(name: "CKaleSystem"),
        .target(
            name: "KaleRedis",
            dependencies: ["CHiredis", "CKaleSystem", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Kale",
            dependencies: [
                "KaleRedis", .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // The Celery bridge: its wire format, the producer to Celery workers, the result format.
        .target(
            name: "KaleCelery",
            dependencies: ["Kale", "KaleRedis", .product(name: "Tracing", package: "swift-distributed-tracing")]
        ),
        .target(
            name: "KaleWorker",
            dependencies: [
                "Kale", "KaleRedis", "KaleCelery", "CKaleSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Prometheus metrics of a worker and of the fleet, and the small scrape endpoint.
        .target(
            name: "KaleObservability",
            dependencies: [
                "Kale", "KaleRedis",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Signed and encrypted messages (docs/security.md): the one core-side target that
        // needs swift-crypto, so a producer that signs nothing does not build BoringSSL.
        .target(
            name: "KaleSealing",
            dependencies: ["Kale", "KaleCelery", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "KaleCLI",
            dependencies: [
                "Kale", "KaleWorker", "KaleRedis", "KaleCelery", "KaleObservability", "KaleSealing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // SHA-256 of a role's password for `kale acl` (already built for KaleSealing).
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(name: "kale", dependencies: ["KaleCLI"]),
        .target(
            name: "KaleTestSupport",
            dependencies: ["Kale", "KaleRedis", "CKaleSystem", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "KaleBench",
            dependencies: [
                "Kale", "KaleRedis", "KaleCelery", "KaleWorker", "KaleCLI", "KaleTestSupport", "KaleObservability", "KaleSealing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The web dashboard (docs/dashboard.md): pages, JSON API, live view. Its assets are
        // compiled into the binary, so it serves nothing from disk or the network.
        .target(
            name: "KaleDashboard",
            dependencies: [
                "Kale", "KaleRedis", "KaleCLI", "KaleObservability",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [
                .embedInCode("Assets/app.js"), .embedInCode("Assets/app.css"), .embedInCode("Assets/openapi.json"),
            ]
        ),
        // Exports traces over OTLP when the OTEL_* environment asks (docs/observability.md).
        .target(
            name: "KaleOTel",
            dependencies: [
                "Kale",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "kale-full", dependencies: ["KaleDashboard", "KaleOTel", "KaleCLI", "Kale"]),
        // Checks that need the dashboard linked, run by scripts/test-dashboard.sh: the test
        // bundle below must not depend on KaleDashboard.
        .executableTarget(
            name: "kale-dashboard-checks",
            dependencies: [
                "KaleDashboard", "KaleCLI", "Kale", "KaleRedis", "KaleTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // No test target may depend on KaleDashboard or Hummingbird: on Linux every test
        // target is one bundle (KalePackageTests), and the core tests must not wait for NIO.
        .testTarget(name: "KaleRedisTests", dependencies: ["KaleRedis", "KaleTestSupport"]),
        .testTarget(name: "KaleTests", dependencies: ["Kale", "KaleCelery", "KaleWorker", "KaleRedis", "KaleSealing", "KaleTestSupport"]),
        .testTarget(
            name: "KaleWorkerTests",
            dependencies: ["Kale", "KaleCelery", "KaleWorker", "KaleRedis", "KaleSealing", "KaleTestSupport"]
        ),
        .testTarget(
            name: "KaleCLITests",
            dependencies: ["Kale", "KaleCLI", "KaleRedis", "KaleSealing", "KaleTestSupport"]
        ),
        .testTarget(
            name: "KaleObservabilityTests",
            dependencies: ["Kale", "KaleObservability", "KaleRedis", "KaleTestSupport"]
        ),
    ]
)

// One set of Swift settings for every Swift target, so no module drifts from the rest.
for target in package.targets where target.type != .system && target.name != "CKaleSystem" {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ]
}
