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
        .library(name: "KaleObservability", targets: ["KaleObservability"]),
        .library(name: "KaleTestSupport", targets: ["KaleTestSupport"]),
        .executable(name: "kale", targets: ["kale"]),
        .executable(name: "kale-bench", targets: ["KaleBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        // Prometheus exposition: needs only swift-atomics and swift-metrics, so it stays light
        // enough for every worker binary (decision 0019).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
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
            dependencies: ["KaleRedis", .product(name: "Logging", package: "swift-log")]
        ),
        // The Celery bridge: its wire format, the producer to Celery workers, the result format.
        .target(
            name: "KaleCelery",
            dependencies: ["Kale", "KaleRedis"]
        ),
        .target(
            name: "KaleWorker",
            dependencies: [
                "Kale", "KaleRedis", "KaleCelery", "CKaleSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
        .target(
            name: "KaleCLI",
            dependencies: [
                "Kale", "KaleWorker", "KaleRedis", "KaleCelery", "KaleObservability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
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
                "Kale", "KaleRedis", "KaleCelery", "KaleWorker", "KaleCLI", "KaleTestSupport", "KaleObservability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "KaleRedisTests", dependencies: ["KaleRedis", "KaleTestSupport"]),
        .testTarget(name: "KaleTests", dependencies: ["Kale", "KaleCelery", "KaleWorker", "KaleRedis", "KaleTestSupport"]),
        .testTarget(
            name: "KaleWorkerTests",
            dependencies: ["Kale", "KaleCelery", "KaleWorker", "KaleRedis", "KaleTestSupport"]
        ),
        .testTarget(
            name: "KaleCLITests",
            dependencies: ["Kale", "KaleCLI", "KaleRedis", "KaleTestSupport"]
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
