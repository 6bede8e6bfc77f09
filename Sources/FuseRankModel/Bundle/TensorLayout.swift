/// The tensor names and shapes of docs/model-format.md: the one place they are written down in Swift.
public enum TensorLayout {
    /// One expected tensor.
    public struct Spec: Sendable, Equatable {
        /// The safetensors name.
        public var name: String
        /// The dtype the format requires.
        public var dtype: TensorDType
        /// The row-major shape the configuration implies.
        public var shape: [Int]
    }

    /// The names of one encoder block's tensors.
    struct LayerNames {
        let norm1W, norm1B, qW, qB, kW, kB, vW, vB, oW, oB, norm2W, norm2B, upW, upB, downW, downB: String

        init(_ l: Int) {
            let p = "layers.\(l)."
            norm1W = p + "norm1.weight"; norm1B = p + "norm1.bias"
            qW = p + "q.weight"; qB = p + "q.bias"
            kW = p + "k.weight"; kB = p + "k.bias"
            vW = p + "v.weight"; vB = p + "v.bias"
            oW = p + "o.weight"; oB = p + "o.bias"
            norm2W = p + "norm2.weight"; norm2B = p + "norm2.bias"
            upW = p + "ffn_up.weight"; upB = p + "ffn_up.bias"
            downW = p + "ffn_down.weight"; downB = p + "ffn_down.bias"
        }
    }

    static let itemIDs = "item_ids"
    static let itemEmb = "item_emb.weight"
    static let itemBias = "item_bias"
    static let eventTypeEmb = "event_type_emb.weight"
    static let timeEmb = "time_emb.weight"
    static let posEmb = "pos_emb.weight"
    static let textEmb = "text_emb.weight"
    static let modalityEmb = "modality_emb.weight"
    static let imageProjW = "image_proj.weight"
    static let imageProjB = "image_proj.bias"
    static let rankToken = "rank_token"
    static let rankPosEmb = "rank_pos_emb.weight"
    static let finalNormW = "final_norm.weight"
    static let finalNormB = "final_norm.bias"
    static let repeatRank = "repeat.rank"
    static let repeatCount = "repeat.count"
    static let repeatEventType = "repeat.event_type"
    static let repeatTime = "repeat.time"
    static let repeatGate = "repeat.gate"
    /// Rows of `repeat.rank`: recency-rank buckets of a seen item (docs/model-format.md "Repeat head").
    public static let repeatRankBuckets = 16
    /// Rows of `repeat.count`: event-count buckets of a seen item.
    public static let repeatCountBuckets = 8

    /// Every tensor a bundle with `config` must hold, and nothing else.
    /// - Parameter config: a configuration that passed validation.
    /// - Returns: the specs in file-format order.
    public static func specs(for config: ModelConfig) -> [Spec] {
        let d = config.dModel
        var specs: [Spec] = [
            Spec(name: itemIDs, dtype: .i64, shape: [config.numItems]),
            Spec(name: itemEmb, dtype: .f32, shape: [config.numItems, d]),
            Spec(name: itemBias, dtype: .f32, shape: [config.numItems]),
            Spec(name: eventTypeEmb, dtype: .f32, shape: [config.numEventTypes, d]),
            Spec(name: timeEmb, dtype: .f32, shape: [config.numTimeBuckets, d]),
            Spec(name: posEmb, dtype: .f32, shape: [config.maxEvents, d]),
            Spec(name: textEmb, dtype: .f32, shape: [config.textVocabSize, d]),
            Spec(name: modalityEmb, dtype: .f32, shape: [2, d]),
        ]
        if config.imageDim > 0 {
            specs.append(Spec(name: imageProjW, dtype: .f32, shape: [d, config.imageDim]))
            specs.append(Spec(name: imageProjB, dtype: .f32, shape: [d]))
        }
        specs.append(Spec(name: rankToken, dtype: .f32, shape: [d]))
        if config.hasRankPosition {
            specs.append(Spec(name: rankPosEmb, dtype: .f32, shape: [config.maxEvents + 1, d]))
        }
        for l in 0..<config.nLayers {
            let n = LayerNames(l)
            specs += [
                Spec(name: n.norm1W, dtype: .f32, shape: [d]), Spec(name: n.norm1B, dtype: .f32, shape: [d]),
                Spec(name: n.qW, dtype: .f32, shape: [d, d]), Spec(name: n.qB, dtype: .f32, shape: [d]),
                Spec(name: n.kW, dtype: .f32, shape: [d, d]), Spec(name: n.kB, dtype: .f32, shape: [d]),
                Spec(name: n.vW, dtype: .f32, shape: [d, d]), Spec(name: n.vB, dtype: .f32, shape: [d]),
                Spec(name: n.oW, dtype: .f32, shape: [d, d]), Spec(name: n.oB, dtype: .f32, shape: [d]),
                Spec(name: n.norm2W, dtype: .f32, shape: [d]), Spec(name: n.norm2B, dtype: .f32, shape: [d]),
                Spec(name: n.upW, dtype: .f32, shape: [config.dFF, d]), Spec(name: n.upB, dtype: .f32, shape: [config.dFF]),
                Spec(name: n.downW, dtype: .f32, shape: [d, config.dFF]), Spec(name: n.downB, dtype: .f32, shape: [d]),
            ]
        }
        specs.append(Spec(name: finalNormW, dtype: .f32, shape: [d]))
        specs.append(Spec(name: finalNormB, dtype: .f32, shape: [d]))
        if config.hasRepeatHead {
            specs += [
                Spec(name: repeatRank, dtype: .f32, shape: [repeatRankBuckets]),
                Spec(name: repeatCount, dtype: .f32, shape: [repeatCountBuckets]),
                Spec(name: repeatEventType, dtype: .f32, shape: [config.numEventTypes]),
                Spec(name: repeatTime, dtype: .f32, shape: [config.numTimeBuckets]),
                Spec(name: repeatGate, dtype: .f32, shape: [d]),
            ]
        }
        return specs
    }
}
