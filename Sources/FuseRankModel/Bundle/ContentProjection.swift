import Foundation

/// The content projection (docs/model-format.md "Content projection"): the tensors of the optional
/// `content.safetensors`, which turn an item's content (text tokens and a content vector) into an
/// item row: an embedding and an output bias, used exactly as a row of the item table.
///
/// `@unchecked Sendable`: read-only views into a `PROT_READ` mapping kept alive by `file`.
struct ContentProjection: @unchecked Sendable {
    static let fileName = "content.safetensors"

    let file: MappedFile
    let weight: UnsafeBufferPointer<Float>  // content.weight (d_model + 1, content_dim + text_vocab_size)
    let bias: UnsafeBufferPointer<Float>    // content.bias (d_model + 1,)

    /// The tensor names and shapes a model of `config` needs.
    static func specs(for config: ModelConfig) -> [(name: String, shape: [Int])] {
        [("content.weight", [config.dModel + 1, config.contentDim + config.textVocabSize]),
         ("content.bias", [config.dModel + 1])]
    }

    /// Loads `bundlePath/content.safetensors`, or returns nil when the bundle has none.
    /// - Throws: ``BundleError`` for a file that exists but does not match `config`.
    static func load(bundlePath: String, config: ModelConfig) throws -> ContentProjection? {
        guard let st = try SafetensorsFile.optional(bundlePath: bundlePath, fileName: fileName,
                                                    specs: specs(for: config)) else { return nil }
        return ContentProjection(file: st.file, weight: st.floats(st.entries["content.weight"]!), bias: st.floats(st.entries["content.bias"]!))
    }

    /// y (d_model + 1,) = content.weight @ x + content.bias, with x (content_dim + text_vocab_size,)
    /// = [vector, one-hot of the distinct nonzero tokens / their count]; the caller validated the input.
    func project(tokens: [UInt32], vector: [Float]?, config: ModelConfig) -> [Float] {
        let rows = config.dModel + 1, k = config.contentDim + config.textVocabSize
        var x = [Float](repeating: 0, count: k)
        if let vector { for (i, v) in vector.enumerated() { x[i] = v } }
        let distinct = Set(tokens.filter { $0 != 0 })
        for t in distinct { x[config.contentDim + Int(t)] = 1 / Float(distinct.count) }
        var y = Array(bias)
        y.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { xs in
                // y = W (rows, k) @ x + y
                matvec(out.baseAddress!, weight.baseAddress!, xs.baseAddress!, m: rows, k: k, lda: k, beta: 1)
            }
        }
        return y
    }
}

extension ModelBundle {
    /// Whether the bundle can turn item content into item rows (it has `content.safetensors`).
    public var hasContentProjection: Bool { content != nil }

    /// The item row of an item's content (docs/model-format.md "Content projection"): its
    /// embedding (`d_model` floats, used as an `item_emb` row) and its output bias (`item_bias`).
    /// - Parameters:
    ///   - textTokens: ids of `vocab.txt`; 0 is padding and ignored, repeats count once.
    ///   - vector: exactly `content_dim` finite floats, or nil (or empty) for zeros.
    /// - Throws: ``ContentError``.
    public func contentRow(textTokens: [UInt32], vector: [Float]?) throws -> (embedding: [Float], bias: Float) {
        guard let content else { throw ContentError.noProjection(model: config.name) }
        for (i, t) in textTokens.enumerated() where Int(t) >= config.textVocabSize {
            throw ContentError.textToken(index: i, id: Int64(t), vocabSize: config.textVocabSize)
        }
        let vector = vector?.isEmpty == true ? nil : vector
        if let vector {
            guard vector.count == config.contentDim else {
                throw ContentError.vectorLength(count: vector.count, expected: config.contentDim)
            }
            if let j = vector.firstIndex(where: { !$0.isFinite }) { throw ContentError.vectorValue(position: j) }
        }
        let y = content.project(tokens: textTokens, vector: vector, config: config)
        return (Array(y[0..<config.dModel]), y[config.dModel])
    }
}
