/// The weights of one forecaster encoder block, viewed in the memory map.
struct ForecasterLayerWeights {
    let norm1W, norm1B: UnsafeBufferPointer<Float>  // (d_model,)
    let qW, kW, vW, outW: UnsafeBufferPointer<Float> // (d_model, d_model) [out, in]
    let qB, kB, vB, outB: UnsafeBufferPointer<Float> // (d_model,)
    let norm2W, norm2B: UnsafeBufferPointer<Float>  // (d_model,)
    let ff1W: UnsafeBufferPointer<Float>            // (d_ff, d_model)
    let ff1B: UnsafeBufferPointer<Float>            // (d_ff,)
    let ff2W: UnsafeBufferPointer<Float>            // (d_model, d_ff)
    let ff2B: UnsafeBufferPointer<Float>            // (d_model,)
}

/// Every tensor of `forecaster.safetensors` as a typed view into its memory map (no copies).
///
/// `@unchecked Sendable`: the views point into a `PROT_READ` mapping that is never written; the
/// ``MappedFile`` held here keeps it mapped for as long as any copy of these views exists.
struct ForecasterWeights: @unchecked Sendable {
    static let fileName = "forecaster.safetensors"

    let file: MappedFile
    let inProjW: UnsafeBufferPointer<Float>   // (d_model, F) F = 3P + 11
    let inProjB: UnsafeBufferPointer<Float>   // (d_model,)
    let pos: UnsafeBufferPointer<Float>       // (T, d_model) T = C/P + H/P
    let layers: [ForecasterLayerWeights]      // layers
    let normW, normB: UnsafeBufferPointer<Float>  // (d_model,)
    let headW: UnsafeBufferPointer<Float>     // (P(1+Q), d_model): per period, the mean's logit then Q quantile logits
    let headB: UnsafeBufferPointer<Float>     // (P(1+Q),)

    /// Checks `bundlePath/forecaster.safetensors` against the tensors `config` implies and views each one.
    /// - Throws: ``BundleError`` for a missing, unexpected, mistyped or misshapen tensor.
    init(bundlePath: String, config: ForecasterConfig) throws {
        guard let st = try SafetensorsFile.optional(
            bundlePath: bundlePath, fileName: Self.fileName,
            specs: ForecasterLayout.specs(for: config).map { ($0.name, $0.shape) })
        else {
            throw BundleError.cannotRead(
                file: bundlePath + "/" + Self.fileName, reason: "missing (forecaster.json needs forecaster.safetensors beside it)")
        }
        func f(_ name: String) -> UnsafeBufferPointer<Float> { st.floats(st.entries[name]!) }
        file = st.file
        inProjW = f(ForecasterLayout.inProjW)
        inProjB = f(ForecasterLayout.inProjB)
        pos = f(ForecasterLayout.pos)
        layers = (0..<config.layers).map { l in
            let n = ForecasterLayout.LayerNames(l)
            return ForecasterLayerWeights(
                norm1W: f(n.norm1W), norm1B: f(n.norm1B),
                qW: f(n.qW), kW: f(n.kW), vW: f(n.vW), outW: f(n.outW),
                qB: f(n.qB), kB: f(n.kB), vB: f(n.vB), outB: f(n.outB),
                norm2W: f(n.norm2W), norm2B: f(n.norm2B),
                ff1W: f(n.ff1W), ff1B: f(n.ff1B), ff2W: f(n.ff2W), ff2B: f(n.ff2B))
        }
        normW = f(ForecasterLayout.normW)
        normB = f(ForecasterLayout.normB)
        headW = f(ForecasterLayout.headW)
        headB = f(ForecasterLayout.headB)
    }
}

/// The tensor names and shapes of `forecaster.safetensors` (docs/model-format.md "Forecaster"):
/// the one place they are written down in Swift.
public enum ForecasterLayout {
    /// The names of one encoder block's tensors.
    struct LayerNames {
        let norm1W, norm1B, qW, qB, kW, kB, vW, vB, outW, outB, norm2W, norm2B, ff1W, ff1B, ff2W, ff2B: String

        init(_ l: Int) {
            let p = "layers.\(l)."
            norm1W = p + "norm1.weight"; norm1B = p + "norm1.bias"
            qW = p + "attn.q.weight"; qB = p + "attn.q.bias"
            kW = p + "attn.k.weight"; kB = p + "attn.k.bias"
            vW = p + "attn.v.weight"; vB = p + "attn.v.bias"
            outW = p + "attn.out.weight"; outB = p + "attn.out.bias"
            norm2W = p + "norm2.weight"; norm2B = p + "norm2.bias"
            ff1W = p + "ff1.weight"; ff1B = p + "ff1.bias"
            ff2W = p + "ff2.weight"; ff2B = p + "ff2.bias"
        }
    }

    static let inProjW = "in_proj.weight"
    static let inProjB = "in_proj.bias"
    static let pos = "pos"
    static let normW = "norm.weight"
    static let normB = "norm.bias"
    static let headW = "head.weight"
    static let headB = "head.bias"

    /// Every tensor a forecaster with `config` must hold (all F32), and nothing else.
    /// - Parameter config: a configuration that passed validation.
    /// - Returns: the specs in file-format order.
    public static func specs(for config: ForecasterConfig) -> [TensorLayout.Spec] {
        let d = config.dModel
        let out = config.patch * config.outputsPerPeriod
        func spec(_ name: String, _ shape: [Int]) -> TensorLayout.Spec { TensorLayout.Spec(name: name, dtype: .f32, shape: shape) }
        var specs = [spec(inProjW, [d, config.features]), spec(inProjB, [d]), spec(pos, [config.tokens, d])]
        for l in 0..<config.layers {
            let n = LayerNames(l)
            specs += [
                spec(n.norm1W, [d]), spec(n.norm1B, [d]),
                spec(n.qW, [d, d]), spec(n.qB, [d]), spec(n.kW, [d, d]), spec(n.kB, [d]),
                spec(n.vW, [d, d]), spec(n.vB, [d]), spec(n.outW, [d, d]), spec(n.outB, [d]),
                spec(n.norm2W, [d]), spec(n.norm2B, [d]),
                spec(n.ff1W, [config.dFF, d]), spec(n.ff1B, [config.dFF]),
                spec(n.ff2W, [d, config.dFF]), spec(n.ff2B, [d]),
            ]
        }
        specs += [spec(normW, [d]), spec(normB, [d]), spec(headW, [out, d]), spec(headB, [out])]
        return specs
    }
}
