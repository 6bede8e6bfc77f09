// swift-tools-version:6.0
// The folder tree is the architecture:
//   C shims (COpenBLAS, CZeroMQ, CFuseRankProto) and C kernels (CFuseRankKernels: int8 scoring)
//   -> FuseRankModel (tensors, kernels, encoder, safetensors; no I/O but bundle loading)
//   -> FuseRankEvaluation (the protocols of docs/evaluation.md, on the public Ranker API) and
//      FuseRankSynthetic (seeded random bundles for the tests and the benchmark)
//   -> FuseRankWire (Swift value types <-> protobuf-c bytes), FuseRankTransport (ZeroMQ sockets)
//      and FuseRankRedis (a hiredis connection, for the shared catalogue log)
//   -> FuseRankServer (workers, batching, deadlines), FuseRankBroker (a forwarding loop in front of
//      replicas) and FuseRankClient (clients/swift)
//   -> thin executables.
import PackageDescription

let package = Package(
    name: "FuseRank",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FuseRankModel", targets: ["FuseRankModel"]),
        .library(name: "FuseRankEvaluation", targets: ["FuseRankEvaluation"]),
        .library(name: "FuseRankClient", targets: ["FuseRankClient"]),
        .executable(name: "fuserank-server", targets: ["fuserank-server"]),
        .executable(name: "fuserank-broker", targets: ["fuserank-broker"]),
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
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis"),
        .target(
            name: "CFuseRankProto",
            path: "Sources/CFuseRankProto",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),

        // The pure model library.
        // Int8 catalogue scoring kernels (runtime dispatch: AVX-512 VNNI, AVX2, plain C).
        .target(name: "CFuseRankKernels", path: "Sources/CFuseRankKernels"),
        .target(name: "FuseRankModel", dependencies: ["COpenBLAS", "CFuseRankKernels"]),
        // Evaluation protocols, MovieLens parsers, popularity: on top of the model's public API.
        .target(name: "FuseRankEvaluation", dependencies: ["FuseRankModel"]),
        // Bundles with seeded random weights, written on demand (any shape): the tests' and the
        // benchmark's models. No test framework, no fixtures.
        .target(name: "FuseRankSynthetic", dependencies: ["FuseRankModel"]),

        // Wire types and codec; transport.
        .target(name: "FuseRankWire", dependencies: ["CFuseRankProto"]),
        .target(name: "FuseRankTransport", dependencies: ["CZeroMQ"]),
        // A blocking Redis connection (hiredis): the shared catalogue log's engine.
        .target(name: "FuseRankRedis", dependencies: ["CHiredis"]),

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
                "FuseRankModel", "FuseRankWire", "FuseRankTransport", "FuseRankMetrics", "FuseRankRedis",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The broker in front of replicas: ROUTER to DEALER, the caller's key passed on; no model code.
        .target(
            name: "FuseRankBroker",
            dependencies: [
                "FuseRankWire", "FuseRankTransport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FuseRankClient",
            dependencies: ["FuseRankWire", "FuseRankTransport"],
            path: "clients/swift/Sources/FuseRankClient"
        ),

        // The options every long-running process takes (heartbeats, log level).
        .target(
            name: "FuseRankCommandLine",
            dependencies: [
                "FuseRankTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Thin executables.
        .executableTarget(
            name: "fuserank-server",
            dependencies: [
                "FuseRankServer", "FuseRankModel", "FuseRankTransport", "FuseRankMetrics", "FuseRankCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "fuserank-broker",
            dependencies: [
                "FuseRankBroker", "FuseRankTransport", "FuseRankMetrics", "FuseRankCommandLine",
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
        // The request path under libFuzzer (`make fuzz`); a plain build replays inputs.
        .executableTarget(
            name: "fuserank-fuzz",
            dependencies: [
                "FuseRankServer", "FuseRankModel", "FuseRankWire", "FuseRankTransport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "fuserank-eval",
            dependencies: [
                "FuseRankModel", "FuseRankEvaluation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "fuserank-bench",
            dependencies: [
                "FuseRankModel", "FuseRankSynthetic",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Tests, and what they share: the golden-fixture decoding, child processes (Redis, the
        // binaries), and the synthetic bundles (re-exported from FuseRankSynthetic).
        .target(
            name: "FuseRankTestSupport", dependencies: ["FuseRankModel", "FuseRankSynthetic", "FuseRankWire", "FuseRankRedis"],
            path: "Tests/FuseRankTestSupport"),
        .testTarget(name: "FuseRankModelTests", dependencies: ["FuseRankModel", "FuseRankTestSupport"]),
        .testTarget(name: "FuseRankEvaluationTests", dependencies: ["FuseRankEvaluation", "FuseRankTestSupport"]),
        .testTarget(name: "FuseRankWireTests", dependencies: ["FuseRankWire"]),
        .testTarget(name: "FuseRankTransportTests", dependencies: ["FuseRankTransport", "FuseRankTestSupport"]),
        .testTarget(name: "FuseRankRedisTests", dependencies: ["FuseRankRedis", "FuseRankTestSupport"]),
        .testTarget(name: "FuseRankMetricsTests", dependencies: ["FuseRankMetrics"]),
        .testTarget(name: "FuseRankServerTests", dependencies: ["FuseRankServer", "FuseRankClient", "FuseRankTestSupport", "FuseRankRedis"]),
        .testTarget(
            name: "FuseRankBrokerTests",
            dependencies: [
                "FuseRankBroker", "FuseRankServer", "FuseRankClient", "FuseRankTransport", "FuseRankTestSupport", "FuseRankWire",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FuseRankClientTests",
            dependencies: ["FuseRankClient", "FuseRankWire", "FuseRankTransport", "fuserank", "FuseRankTestSupport"],
            path: "clients/swift/Tests/FuseRankClientTests"
        ),
    ]
)
