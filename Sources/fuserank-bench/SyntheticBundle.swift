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
        var header: [String: Any] = [:]
        var data: [UInt8] = []
        for spec in TensorLayout.specs(for: config) {
            let n = spec.shape.reduce(1, *)
            let bytes: [UInt8]
            if spec.dtype == .i64 {
                let ids: [Int64] = [0, -1] + (2..<n).map { Int64($0 - 1) }
                bytes = ids.withUnsafeBytes { Array($0) }
            } else {
                let isNormWeight = spec.name.hasSuffix("norm1.weight") || spec.name.hasSuffix("norm2.weight")
                    || spec.name == "final_norm.weight"
                let scale: Float = spec.shape.count == 2 ? 1 / Float(spec.shape[1]).squareRoot() : 0.1
                let values = (0..<n).map { _ in (isNormWeight ? 1 : 0) + scale * uniform() }
                bytes = values.withUnsafeBytes { Array($0) }
            }
            header[spec.name] = ["dtype": spec.dtype.rawValue, "shape": spec.shape, "data_offsets": [data.count, data.count + bytes.count]]
            data += bytes
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var file: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file += json + data
        try Data(file).write(to: URL(fileURLWithPath: folder + "/weights.safetensors"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(config).write(to: URL(fileURLWithPath: folder + "/config.json"))
        let vocab = ["[PAD]", "[UNK]"] + (2..<config.textVocabSize).map { "word\($0)" }
        try Data((vocab.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: folder + "/vocab.txt"))
    }
}
