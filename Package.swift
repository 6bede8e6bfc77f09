// swift-tools-version:6.0
// The folder tree is the architecture:
//   C shims (COpenBLAS, CZeroMQ, CFuseRankProto)
//   -> FuseRankModel (tensors, kernels, encoder, safetensors; no I/O but bundle loading)
//   -> FuseRankWire (Swift value types <-> protobuf-c bytes) and FuseRankTransport (ZeroMQ sockets)
//   -> FuseRankServer (workers, batching, deadlines) and FuseRankClient (clients/swift)
//   -> thin executables.
import PackageDescription

let package = Package(
    name: "FuseRank",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FuseRankModel", targets: ["FuseRankModel"]),
        .library(name: "FuseRankClient", targets: ["FuseRankClient"]),
        .executable(name: "fuserank-server", targets: ["fuserank-server"]),
        .executable(name: "fuserank", targets: ["fuserank"]),
        .executable(name: "fuserank-eval", targets: ["fuserank-eval"]),
        .executable(name: "fuserank-bench", targets: ["fuserank-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Metrics (FuseRankMetrics only): the swift-metrics API, the Prometheus text format, and
        // FlyingFox, the lightest HTTP server available (no SwiftNIO; see docs/metrics.md).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // C shims.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .target(
            name: "CFuseRankProto",
            path: "Sources/CFuseRankProto",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),

        // The pure model library.
        .target(name: "FuseRankModel", dependencies: ["COpenBLAS"]),

        // Wire types and codec; transport.
        .target(name: "FuseRankWire", dependencies: ["CFuseRankProto"]),
        .target(name: "FuseRankTransport", dependencies: ["CZeroMQ"]),

        // Prometheus metrics and their HTTP endpoint.
        .target(
            name: "FuseRankMetrics",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
            ]
        ),

        // Server and client.
        .target(
            name: "FuseRankServer",
            dependencies: [
                "FuseRankModel", "FuseRankWire", "FuseRankTransport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FuseRankClient",
            dependencies: ["FuseRankWire", "FuseRankTransport"],
            path: "clients/swift/Sources/FuseRankClient"
        ),

        // Thin executables.
        .executableTarget(
            name: "fuserank-server",
            dependencies: [
                "FuseRankServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "fuserank",
            dependencies: [
                "FuseRankClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "clients/swift/Sources/fuserank"
        ),
        .executableTarget(
            name: "fuserank-eval",
            dependencies: [
                "FuseRankModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "fuserank-bench",
            dependencies: [
                "FuseRankModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Tests, and the golden-fixture decoding the model and server tests share.
        .target(name: "FuseRankFixtures", path: "Tests/FuseRankFixtures"),
        .testTarget(name: "FuseRankModelTests", dependencies: ["FuseRankModel", "FuseRankFixtures"]),
        .testTarget(name: "FuseRankWireTests", dependencies: ["FuseRankWire"]),
        .testTarget(name: "FuseRankTransportTests", dependencies: ["FuseRankTransport"]),
        .testTarget(name: "FuseRankMetricsTests", dependencies: ["FuseRankMetrics"]),
        .testTarget(name: "FuseRankServerTests", dependencies: ["FuseRankServer", "FuseRankClient", "FuseRankFixtures"]),
        .testTarget(
            name: "FuseRankClientTests",
            dependencies: ["FuseRankClient", "FuseRankWire", "FuseRankTransport", "fuserank"],
            path: "clients/swift/Tests/FuseRankClientTests"
        ),
    ]
)
