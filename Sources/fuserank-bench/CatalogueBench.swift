import Foundation
import FuseRankModel
import FuseRankSynthetic

/// Whole-catalogue scoring at shop scale: the exact float32 path against the int8 path on one
/// synthetic bundle of `items` items, in one run (never asserts; prints one JSON line).
struct CatalogueBench {
    var items: Int
    var dModel = 64
    var events = 50
    var users = 1000
    var iters = 30
    var warmup = 3
    /// A trained bundle whose encoder and item rows the synthetic catalogue reuses ("real-model
    /// vectors"): its rows are resampled with noise up to `items`; nil = random weights.
    var realModel: String?

    /// A bundle of `items` items (written to a temporary folder, which is removed; the map stays).
    func makeBundle() throws -> ModelBundle {
        var bundle: SyntheticBundle
        if let realModel {
            let real = try ModelBundle(path: realModel)
            var config = real.config
            config.name = "synthetic-\(real.config.name)"
            config.numItems = items + 2
            bundle = SyntheticBundle(config: config, seed: 11)
            for spec in TensorLayout.specs(for: config) where spec.dtype == .f32 && spec.name != "item_emb.weight" && spec.name != "item_bias" {
                if let values = try real.floatTensor(named: spec.name) { bundle.floats[spec.name] = values }
            }
            // Item rows: a real row scaled by (1 + 0.1 noise) per value, its bias with it.
            let emb = try real.floatTensor(named: "item_emb.weight") ?? []
            let bias = try real.floatTensor(named: "item_bias") ?? []
            let d = config.dModel, realRows = real.catalogueSize
            var rng = SplitMix64(state: 3)
            var table = bundle.floats["item_emb.weight"] ?? []
            var newBias = bundle.floats["item_bias"] ?? []
            for row in 2..<(items + 2) {
                let source = 2 + Int(rng.below(UInt64(realRows)))
                for j in 0..<d {
                    let noise = Float(Double(rng.next() >> 11) / 9007199254740992.0) * 0.2 - 0.1
                    table[row * d + j] = emb[source * d + j] * (1 + noise)
                }
                newBias[row] = bias[source]
            }
            bundle.floats["item_emb.weight"] = table
            bundle.floats["item_bias"] = newBias
        } else {
            var config = SyntheticBundle.tinyConfig(imageDim: 0)
            config.name = "synthetic-catalogue"
            config.dModel = dModel
            config.dFF = 4 * dModel
            config.maxEvents = events
            config.numItems = items + 2
            bundle = SyntheticBundle(config: config, seed: 11)
        }
        bundle.itemIDs = [0, -1] + (2..<(items + 2)).map { Int64($0) }
        let folder = try bundle.write()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try ModelBundle(path: folder)
    }

    /// Random histories of `events` catalogue items: top-10 catalogue requests, seen items excluded.
    func queries(_ bundle: ModelBundle) throws -> [ValidatedQuery] {
        var rng = SplitMix64(state: 5)
        let n = UInt64(bundle.catalogueSize)
        return try (0..<users).map { _ in
            let evs = (0..<events).map { _ in BehaviourEvent(itemID: Int64(2 + rng.below(n))) }
            return try bundle.validate(RankQuery(events: evs, topK: 10, excludeSeen: true))
        }
    }

    func run() throws -> [String: Any] {
        let started = Date()
        let bundle = try makeBundle()
        let built = Date().timeIntervalSince(started)
        let qs = try queries(bundle)
        let exact1 = Ranker(bundle: bundle, maxBatch: 1, catalogueScoring: .exact)
        let int81 = Ranker(bundle: bundle, maxBatch: 1, catalogueScoring: .int8)
        let exact8 = Ranker(bundle: bundle, maxBatch: 8, catalogueScoring: .exact)
        let int88 = Ranker(bundle: bundle, maxBatch: 8, catalogueScoring: .int8)
        // Recall: the int8 path's top-10 against the exact one, every user.
        let exactTop = exact8.rank(qs)
        let int8Top = int88.rank(qs)
        var found = 0, maxScoreError: Float = 0
        for (e, q) in zip(exactTop, int8Top) {
            let want = Set(e.items.map(\.itemID))
            found += q.items.filter { want.contains($0.itemID) }.count
            for (a, b) in zip(e.items, q.items) where a.itemID == b.itemID {
                maxScoreError = max(maxScoreError, abs(a.score - b.score))
            }
        }
        func perCall(_ ranker: Ranker, batch: Int) -> Double {
            var i = 0
            return median(iters: iters, warmup: warmup) {
                let start = (i * batch) % (qs.count - batch)
                i += 1
                _ = ranker.rank(Array(qs[start..<(start + batch)]))
            }
        }
        let exactMs = perCall(exact1, batch: 1), int8Ms = perCall(int81, batch: 1)
        let exact8Ms = perCall(exact8, batch: 8), int88Ms = perCall(int88, batch: 8)
        let quantized = bundle.quantizedCatalogue
        return [
            "impl": "swift", "catalogue": items, "d_model": bundle.config.dModel, "events": events,
            "vectors": realModel == nil ? "synthetic" : "real:\(bundle.config.name)",
            "exact_ms": exactMs, "int8_ms": int8Ms, "speedup": exactMs / int8Ms,
            "exact_batch8_ms": exact8Ms, "int8_batch8_ms": int88Ms,
            "recall_at_10": Double(found) / Double(10 * qs.count), "users": qs.count,
            "max_abs_score_error_of_shared_items": Double(maxScoreError),
            "table_bytes_f32": bundle.catalogueSize * bundle.config.dModel * 4, "table_bytes_int8": quantized.bytes,
            "kernel": QuantizedCatalogue.kernel, "build_s": (built * 10).rounded() / 10,
        ]
    }
}

/// Median wall time of `body` in milliseconds.
func median(iters: Int, warmup: Int, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    var ms: [Double] = []
    for _ in 0..<iters {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        ms.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    ms.sort()
    return (ms[ms.count / 2] * 10_000).rounded() / 10_000
}
