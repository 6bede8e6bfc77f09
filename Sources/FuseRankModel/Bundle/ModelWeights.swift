/// The weights of one encoder block, viewed in the memory map.
struct LayerWeights {
    let norm1W, norm1B: UnsafeBufferPointer<Float>  // (d_model,)
    let qW, kW, vW, oW: UnsafeBufferPointer<Float>  // (d_model, d_model) [out, in]
    let qB, kB, vB, oB: UnsafeBufferPointer<Float>  // (d_model,)
    let norm2W, norm2B: UnsafeBufferPointer<Float>  // (d_model,)
    let upW: UnsafeBufferPointer<Float>             // (d_ff, d_model)
    let upB: UnsafeBufferPointer<Float>             // (d_ff,)
    let downW: UnsafeBufferPointer<Float>           // (d_model, d_ff)
    let downB: UnsafeBufferPointer<Float>           // (d_model,)
}

/// The repeat head (format_version 3), viewed in the memory map.
struct RepeatWeights {
    let rank: UnsafeBufferPointer<Float>       // (16,) by recency-rank bucket
    let count: UnsafeBufferPointer<Float>      // (8,) by event-count bucket
    let eventType: UnsafeBufferPointer<Float>  // (num_event_types,) summed over the item's event types
    let time: UnsafeBufferPointer<Float>       // (num_time_buckets,) by time since the item's newest event
    let gate: UnsafeBufferPointer<Float>       // (d_model,) u . gate: the user's propensity to return
}

/// Every tensor of a bundle as a typed view into the memory-mapped safetensors file (no copies).
///
/// `@unchecked Sendable`: the views point into a `PROT_READ` mapping that is never written; the
/// ``MappedFile`` held here keeps it mapped for as long as any copy of these views exists.
struct ModelWeights: @unchecked Sendable {
    let file: MappedFile
    let itemIDs: UnsafeBufferPointer<Int64>        // (num_items,)
    let itemEmb: UnsafeBufferPointer<Float>        // (num_items, d_model)
    let itemBias: UnsafeBufferPointer<Float>       // (num_items,)
    let eventTypeEmb: UnsafeBufferPointer<Float>   // (num_event_types, d_model)
    let timeEmb: UnsafeBufferPointer<Float>        // (num_time_buckets, d_model)
    let posEmb: UnsafeBufferPointer<Float>         // (max_events, d_model)
    let textEmb: UnsafeBufferPointer<Float>        // (text_vocab_size, d_model)
    let modalityEmb: UnsafeBufferPointer<Float>    // (2, d_model): text, image
    let imageProjW: UnsafeBufferPointer<Float>?    // (d_model, image_dim); nil when image_dim == 0
    let imageProjB: UnsafeBufferPointer<Float>?    // (d_model,)
    let rankToken: UnsafeBufferPointer<Float>      // (d_model,)
    let rankPosEmb: UnsafeBufferPointer<Float>?    // (max_events + 1, d_model); nil before format_version 2
    let layers: [LayerWeights]                     // n_layers
    let finalNormW, finalNormB: UnsafeBufferPointer<Float>  // (d_model,)
    let repeatHead: RepeatWeights?                 // nil before format_version 3

    /// Checks the file against the tensors `config` implies and views each one.
    /// - Throws: ``BundleError`` for a missing, unexpected, mistyped or misshapen tensor.
    init(file st: SafetensorsFile, config: ModelConfig, path: String) throws {
        let specs = TensorLayout.specs(for: config)
        let expected = Set(specs.map(\.name))
        if let extra = st.entries.keys.sorted().first(where: { !expected.contains($0) }) {
            throw BundleError.unexpectedTensor(file: path, tensor: extra)
        }
        for spec in specs {
            guard let entry = st.entries[spec.name] else {
                throw BundleError.missingTensor(file: path, tensor: spec.name)
            }
            guard entry.dtype == spec.dtype else {
                throw BundleError.wrongDType(file: path, tensor: spec.name, expected: spec.dtype.rawValue, actual: entry.dtype.rawValue)
            }
            guard entry.shape == spec.shape else {
                throw BundleError.wrongShape(file: path, tensor: spec.name, expected: spec.shape, actual: entry.shape)
            }
        }
        func f(_ name: String) -> UnsafeBufferPointer<Float> { st.floats(st.entries[name]!) }
        file = st.file
        itemIDs = st.int64s(st.entries[TensorLayout.itemIDs]!)
        itemEmb = f(TensorLayout.itemEmb)
        itemBias = f(TensorLayout.itemBias)
        eventTypeEmb = f(TensorLayout.eventTypeEmb)
        timeEmb = f(TensorLayout.timeEmb)
        posEmb = f(TensorLayout.posEmb)
        textEmb = f(TensorLayout.textEmb)
        modalityEmb = f(TensorLayout.modalityEmb)
        imageProjW = config.imageDim > 0 ? f(TensorLayout.imageProjW) : nil
        imageProjB = config.imageDim > 0 ? f(TensorLayout.imageProjB) : nil
        rankToken = f(TensorLayout.rankToken)
        rankPosEmb = config.hasRankPosition ? f(TensorLayout.rankPosEmb) : nil
        layers = (0..<config.nLayers).map { l in
            let n = TensorLayout.LayerNames(l)
            return LayerWeights(
                norm1W: f(n.norm1W), norm1B: f(n.norm1B),
                qW: f(n.qW), kW: f(n.kW), vW: f(n.vW), oW: f(n.oW),
                qB: f(n.qB), kB: f(n.kB), vB: f(n.vB), oB: f(n.oB),
                norm2W: f(n.norm2W), norm2B: f(n.norm2B),
                upW: f(n.upW), upB: f(n.upB), downW: f(n.downW), downB: f(n.downB))
        }
        finalNormW = f(TensorLayout.finalNormW)
        finalNormB = f(TensorLayout.finalNormB)
        repeatHead = config.hasRepeatHead
            ? RepeatWeights(rank: f(TensorLayout.repeatRank), count: f(TensorLayout.repeatCount),
                            eventType: f(TensorLayout.repeatEventType), time: f(TensorLayout.repeatTime),
                            gate: f(TensorLayout.repeatGate))
            : nil
    }
}
