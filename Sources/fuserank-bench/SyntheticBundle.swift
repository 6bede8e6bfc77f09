import Foundation
import FuseRankModel

/// Writes a bundle of the default model's shape with seeded random weights, so the benchmark
/// (Swift and PyTorch alike) can run before a trained bundle exists.
enum SyntheticBundle {
    /// The shape of `models/default` (docs/model-format.md example) with 200 events.
    static let config = ModelConfig(
        name: "synthetic", version: "bench", dModel: 64, nHeads: 2, nLayers: 2, dFF: 256,
        maxEvents: 200, maxTextTokens: 16, maxImages: 4, imageDim: 32, numItems: 9744,
        numEventTypes: 7, textVocabSize: 30, numTimeBuckets: 34, layerNormEps: 1e-5)

    /// Writes config.json, vocab.txt and weights.safetensors into `folder`.
    static func write(to folder: String, seed: UInt64 = 7) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var rng = SplitMix64(state: seed)
        func uniform() -> Float { Float(Double(rng.next() >> 11) / 9007199254740992.0) * 2 - 1 }
        let tensors = TensorLayout.specs(for: config).map { spec -> SafetensorsTensor in
            let n = spec.shape.reduce(1, *)
            if spec.dtype == .i64 {
                return SafetensorsTensor(name: spec.name, int64s: [0, -1] + (2..<n).map { Int64($0 - 1) }, shape: spec.shape)
            }
            let isNormWeight = spec.name.hasSuffix("norm1.weight") || spec.name.hasSuffix("norm2.weight")
                || spec.name == "final_norm.weight"
            let scale: Float = spec.shape.count == 2 ? 1 / Float(spec.shape[1]).squareRoot() : 0.1
            return SafetensorsTensor(name: spec.name, floats: (0..<n).map { _ in (isNormWeight ? 1 : 0) + scale * uniform() },
                                     shape: spec.shape)
        }
        let file = try SafetensorsEncoding.encode(tensors)
        try Data(file).write(to: URL(fileURLWithPath: folder + "/weights.safetensors"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(config).write(to: URL(fileURLWithPath: folder + "/config.json"))
        let vocab = ["[PAD]", "[UNK]"] + (2..<config.textVocabSize).map { "word\($0)" }
        try Data((vocab.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: folder + "/vocab.txt"))
    }
}
