import Foundation

/// The purchase head (docs/model-format.md "Purchase head"): the tensors of the optional
/// `purchase.safetensors` beside `weights.safetensors`, viewed in their own memory map.
///
/// `@unchecked Sendable`: read-only views into a `PROT_READ` mapping kept alive by `file`.
struct PurchaseWeights: @unchecked Sendable {
    static let fileName = "purchase.safetensors"

    let file: MappedFile
    let scoreWeight: Float                      // purchase.score_weight (1,)
    let bias: Float                             // purchase.bias (1,)
    let itemBias: UnsafeBufferPointer<Float>    // purchase.item_bias (num_items,)
    let gate: UnsafeBufferPointer<Float>        // purchase.gate (d_model,)
    let rank: UnsafeBufferPointer<Float>        // purchase.rank (16,)
    let count: UnsafeBufferPointer<Float>       // purchase.count (8,)
    let eventType: UnsafeBufferPointer<Float>   // purchase.event_type (num_event_types,)
    let time: UnsafeBufferPointer<Float>        // purchase.time (num_time_buckets,)
    let typeCount: UnsafeBufferPointer<Float>   // purchase.type_count (num_event_types,), times log1p(events of type t)
    let recency: Float                          // purchase.recency (1,), times log1p(events since the item's newest); optional, 0 when absent

    /// The tensor names and shapes a model of `config` needs.
    static func specs(for config: ModelConfig) -> [(name: String, shape: [Int])] {
        [("purchase.score_weight", [1]), ("purchase.bias", [1]),
         ("purchase.item_bias", [config.numItems]), ("purchase.gate", [config.dModel]),
         ("purchase.rank", [TensorLayout.repeatRankBuckets]), ("purchase.count", [TensorLayout.repeatCountBuckets]),
         ("purchase.event_type", [config.numEventTypes]), ("purchase.time", [config.numTimeBuckets]),
         ("purchase.type_count", [config.numEventTypes])]
    }

    /// Tensors a head may hold (written since the fused head of issue 27; older heads lack them).
    static let optionalSpecs: [(name: String, shape: [Int])] = [("purchase.recency", [1])]

    /// Loads `bundlePath/purchase.safetensors`, or returns nil when the bundle has none.
    /// - Throws: ``BundleError`` for a file that exists but does not match `config`.
    static func load(bundlePath: String, config: ModelConfig) throws -> PurchaseWeights? {
        guard let st = try SafetensorsFile.optional(bundlePath: bundlePath, fileName: fileName,
                                                    specs: specs(for: config), optionalSpecs: optionalSpecs)
        else { return nil }
        func f(_ name: String) -> UnsafeBufferPointer<Float> { st.floats(st.entries["purchase." + name]!) }
        return PurchaseWeights(
            file: st.file, scoreWeight: f("score_weight")[0], bias: f("bias")[0], itemBias: f("item_bias"),
            gate: f("gate"), rank: f("rank"), count: f("count"), eventType: f("event_type"), time: f("time"),
            typeCount: f("type_count"), recency: st.entries["purchase.recency"].map { st.floats($0)[0] } ?? 0)
    }
}
