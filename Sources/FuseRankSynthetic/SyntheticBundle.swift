import Foundation
import FuseRankModel

/// A bundle with seeded random weights, kept in memory as plain arrays and written on demand: the
/// model tests' bundle, the server tests' and the benchmark's (any shape, any catalogue size).
public struct SyntheticBundle {
    public var config: ModelConfig
    public var floats: [String: [Float]] = [:]
    public var itemIDs: [Int64]
    public var vocab: [String]
    /// `content.weight` (d_model + 1, content_dim + text_vocab_size) and `content.bias`
    /// (d_model + 1,): written as `content.safetensors` when set (docs/model-format.md).
    public var content: (weight: [Float], bias: [Float])?

    /// The tiny shape of the golden fixtures.
    public static func tinyConfig(imageDim: Int = 6, formatVersion: Int = ModelConfig.latestFormatVersion) -> ModelConfig {
        ModelConfig(
            name: "synthetic", version: "test", dModel: 16, nHeads: 2, nLayers: 2, dFF: 32,
            maxEvents: 8, maxTextTokens: 4, maxImages: 2, imageDim: imageDim, numItems: 42,
            numEventTypes: 7, textVocabSize: 12, numTimeBuckets: 10, layerNormEps: 1e-5,
            formatVersion: formatVersion)
    }

    public init(config: ModelConfig = SyntheticBundle.tinyConfig(), seed: UInt64 = 1) {
        self.config = config
        var rng = SplitMix64(state: seed)
        func normal() -> Float { rng.nextNormal() }
        itemIDs = [0, -1] + (2..<config.numItems).map { Int64(100 + 7 * $0) }
        vocab = ["[PAD]", "[UNK]"] + (2..<config.textVocabSize).map { "w\($0)" }
        if config.textVocabSize > 4 {
            vocab[2] = "sci-fi"; vocab[3] = "children's"; vocab[4] = "comedy"
        }
        for spec in TensorLayout.specs(for: config) where spec.dtype == .f32 {
            let n = spec.shape.reduce(1, *)
            let fanIn = spec.shape.count == 2 ? spec.shape[1] : 1
            let name = spec.name
            let scale: Float
            var offset: Float = 0
            if name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name == "final_norm.weight" {
                scale = 0.1; offset = 1
            } else if spec.shape.count == 2 && name.hasPrefix("layers.") || name == "image_proj.weight" {
                scale = 1 / Float(fanIn).squareRoot()
            } else if name.hasSuffix(".bias") || name == "item_bias" {
                scale = 0.1
            } else {
                scale = 0.5
            }
            floats[name] = (0..<n).map { _ in offset + scale * normal() }
        }
    }

    /// Gives the bundle a seeded random content projection of `contentDim` (config and tensors).
    public mutating func addContentProjection(contentDim: Int, seed: UInt64 = 7) {
        config.contentDim = contentDim
        config.contentVector = "synthetic test vector"
        var rng = SplitMix64(state: seed)
        func uniform() -> Float { Float(Double(rng.next() >> 11) / 9007199254740992.0 * 2 - 1) }
        let rows = config.dModel + 1, k = contentDim + config.textVocabSize
        content = ((0..<rows * k).map { _ in uniform() }, (0..<rows).map { _ in 0.1 * uniform() })
    }

    /// The tensors of `content.safetensors`, when the bundle has a content projection.
    public func contentBlobs() -> [TensorBlob]? {
        content.map { c in
            [TensorBlob(name: "content.weight", floats: c.weight, shape: [config.dModel + 1, c.weight.count / (config.dModel + 1)]),
             TensorBlob(name: "content.bias", floats: c.bias, shape: [config.dModel + 1])]
        }
    }

    /// The tensors in format order.
    public func blobs() -> [TensorBlob] {
        TensorLayout.specs(for: config).map { spec in
            spec.dtype == .i64
                ? TensorBlob(name: spec.name, int64s: itemIDs, shape: spec.shape)
                : TensorBlob(name: spec.name, floats: floats[spec.name]!, shape: spec.shape)
        }
    }

    /// Writes config.json, vocab.txt and weights.safetensors into a fresh temporary folder.
    /// - Returns: the folder path.
    public func write(
        configJSON: String? = nil, vocabText: String? = nil, blobs: [TensorBlob]? = nil,
        editHeader: (inout [String: Any]) -> Void = { _ in }
    ) throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("fuserank-test-\(UUID().uuidString)").path
        try write(to: dir, configJSON: configJSON, vocabText: vocabText, blobs: blobs, editHeader: editHeader)
        return dir
    }

    /// Writes config.json, vocab.txt and weights.safetensors into `dir` (created if missing).
    public func write(
        to dir: String, configJSON: String? = nil, vocabText: String? = nil, blobs: [TensorBlob]? = nil,
        editHeader: (inout [String: Any]) -> Void = { _ in }
    ) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try configJSON.map { Data($0.utf8) } ?? encoder.encode(config)
        try json.write(to: URL(fileURLWithPath: dir + "/config.json"))
        try Data((vocabText ?? vocab.joined(separator: "\n") + "\n").utf8)
            .write(to: URL(fileURLWithPath: dir + "/vocab.txt"))
        try SafetensorsWriter.write(blobs ?? self.blobs(), to: dir + "/weights.safetensors", edit: editHeader)
        if let content = contentBlobs() { try SafetensorsWriter.write(content, to: dir + "/content.safetensors") }
    }

    /// Writes and loads the bundle.
    public func load() throws -> ModelBundle {
        let dir = try write()
        defer { try? FileManager.default.removeItem(atPath: dir) }  // the map outlives the file
        return try ModelBundle(path: dir)
    }
}
