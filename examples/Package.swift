// swift-tools-version: 6.1
import PackageDescription

// Kale's examples: real image and PDF tasks, a worker, an HTTP producer and a demo producer.
// A package of its own so the core never needs libvips, cairo or poppler.
let package = Package(
    name: "KaleExamples",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ExampleWorker", targets: ["ExampleWorker"]),
        .executable(name: "ReportService", targets: ["ReportService"]),
        .executable(name: "ExampleProducer", targets: ["ExampleProducer"]),
    ],
    dependencies: [
        .package(name: "Kale", path: ".."),
        // The traits the core package asks for (none): one set of Hummingbird's flags, so the
        // examples built in the core's build folder reuse its Hummingbird (scripts/test-examples.sh).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
    ],
    targets: [
        // C libraries. libvips's API is variadic, so Swift calls it through the CVips shim;
        // cairo, pango and poppler-glib are plain C and are called directly.
        .systemLibrary(name: "CVipsSystem", pkgConfig: "vips", providers: [.apt(["libvips-dev"])]),
        .target(name: "CVips", dependencies: ["CVipsSystem"]),
        .systemLibrary(name: "CCairo", pkgConfig: "pangocairo", providers: [.apt(["libcairo2-dev", "libpango1.0-dev"])]),
        .systemLibrary(name: "CPoppler", pkgConfig: "poppler-glib", providers: [.apt(["libpoppler-glib-dev"])]),

        // Task names and their input/output types: all a producer needs, no C libraries.
        .target(name: "ExampleContracts", dependencies: [.product(name: "Kale", package: "Kale")]),
        // The task implementations.
        .target(
            name: "KaleExamples",
            dependencies: ["ExampleContracts", "CVips", "CCairo", "CPoppler", .product(name: "Kale", package: "Kale")]
        ),
        // The HTTP producer's routes, separate from its executable so tests can drive them.
        .target(
            name: "ReportAPI",
            dependencies: [
                "ExampleContracts",
                .product(name: "Kale", package: "Kale"),
                .product(name: "KaleRedis", package: "Kale"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ExampleWorker",
            dependencies: ["KaleExamples", .product(name: "KaleCLI", package: "Kale"), .product(name: "Kale", package: "Kale")]
        ),
        .executableTarget(
            name: "ReportService",
            dependencies: [
                "ReportAPI",
                .product(name: "Kale", package: "Kale"),
                .product(name: "KaleRedis", package: "Kale"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ExampleProducer",
            dependencies: [
                "KaleExamples", "ExampleContracts",
                .product(name: "Kale", package: "Kale"),
                .product(name: "KaleRedis", package: "Kale"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // One test target: the task, worker-process and HTTP tests share the helpers that
        // start a real worker and draw sample images.
        .testTarget(
            name: "KaleExamplesTests",
            dependencies: [
                "KaleExamples", "ExampleContracts", "ReportAPI", "CVips",
                .product(name: "Kale", package: "Kale"),
                .product(name: "KaleRedis", package: "Kale"),
                .product(name: "KaleTestSupport", package: "Kale"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

// The root package's Swift settings, for every Swift target here too.
for target in package.targets where target.type != .system && target.name != "CVips" {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ]
}
