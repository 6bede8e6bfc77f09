import Foundation
import FuseRankModel

/// A forecaster with seeded random weights, kept in memory as plain arrays and written on demand
/// (`forecaster.json` and `forecaster.safetensors`): the model tests' forecaster, the server
/// tests' and the benchmark's (any shape).
public struct SyntheticForecaster: Sendable {
    public var config: ForecasterConfig
    public var floats: [String: [Float]] = [:]

    /// A tiny shape: P = 7 days, C = 28, H = 14, closed on Sundays.
    public static func tinyConfig() -> ForecasterConfig {
        ForecasterConfig(
            patch: 7, context: 28, maxHorizon: 14, dModel: 16, heads: 2, layers: 2, dFF: 32,
            quantiles: [0.1, 0.5, 0.9], defaultQuantiles: [0.1, 0.5, 0.9], closedWeekdays: [6])
    }

    /// The benchmark's realistic shape: d_model 64, 2 layers, P = 7, C = 112, H = 28, 11 levels.
    public static func realisticConfig() -> ForecasterConfig {
        ForecasterConfig(
            patch: 7, context: 112, maxHorizon: 28, dModel: 64, heads: 4, layers: 2, dFF: 128,
            quantiles: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
            defaultQuantiles: [0.1, 0.5, 0.9], closedWeekdays: [5])
    }

    public init(config: ForecasterConfig = SyntheticForecaster.tinyConfig(), seed: UInt64 = 3) {
        self.config = config
        var rng = SplitMix64(state: seed)
        func normal() -> Float { rng.nextNormal() }
        for spec in ForecasterLayout.specs(for: config) {
            let n = spec.shape.reduce(1, *)
            let name = spec.name
            let scale: Float
            var offset: Float = 0
            if name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name == "norm.weight" {
                scale = 0.1; offset = 1
            } else if spec.shape.count == 2 && name != "pos" {
                scale = 1 / Float(spec.shape[1]).squareRoot()
            } else if name.hasSuffix(".bias") {
                scale = 0.1
            } else {
                scale = 0.5
            }
            floats[name] = (0..<n).map { _ in offset + scale * normal() }
        }
    }

    /// The tensors in format order.
    public func blobs() -> [TensorBlob] {
        ForecasterLayout.specs(for: config).map { TensorBlob(name: $0.name, floats: floats[$0.name]!, shape: $0.shape) }
    }

    /// Writes forecaster.json and forecaster.safetensors into `dir` (created if missing).
    public func write(to dir: String, configJSON: String? = nil, blobs: [TensorBlob]? = nil) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try configJSON.map { Data($0.utf8) } ?? encoder.encode(config)
        try json.write(to: URL(fileURLWithPath: dir + "/forecaster.json"))
        try SafetensorsWriter.write(blobs ?? self.blobs(), to: dir + "/forecaster.safetensors")
    }

    /// Writes the forecaster alone into a fresh temporary folder (a forecaster-only bundle).
    /// - Returns: the folder path.
    public func write() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-forecaster-\(UUID().uuidString)").path
        try write(to: dir)
        return dir
    }

    /// Writes and loads the forecaster.
    public func load() throws -> ForecasterBundle {
        let dir = try write()
        defer { try? FileManager.default.removeItem(atPath: dir) }  // the map outlives the file
        return try ForecasterBundle(path: dir)
    }
}
