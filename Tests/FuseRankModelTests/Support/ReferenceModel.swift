import FuseRankTestSupport
import Foundation
@testable import FuseRankModel

/// A plain, loop-by-loop forward pass in Double over a ``SyntheticBundle``'s arrays: the
/// independent reference the engine is tested against (written from docs/model-format.md).
struct ReferenceModel {
    let b: SyntheticBundle
    var c: ModelConfig { b.config }

    private func w(_ name: String) -> [Double] { b.floats[name]!.map(Double.init) }

    private func row(_ name: String, _ r: Int) -> [Double] {
        let d = c.dModel
        return b.floats[name]![(r * d)..<((r + 1) * d)].map(Double.init)
    }

    static func bitLength(_ v: Int64) -> Int {
        var n = 0, x = v
        while x > 0 { n += 1; x >>= 1 }
        return n
    }

    func bucket(_ dt: Int64) -> Int { 2 + min(c.numTimeBuckets - 3, Self.bitLength(max(0, dt) / 1000)) }

    /// The token matrix of one query (S rows of d).
    func tokens(_ q: RankQuery) -> [[Double]] {
        var rows: [[Double]] = []
        let ev = q.events
        let start = max(0, ev.count - c.maxEvents)
        for i in start..<ev.count {
            let e = ev[i]
            let r = b.itemIDs.enumerated().first { $0.offset >= 2 && $0.element == e.itemID }?.offset ?? 1
            let tb: Int
            if e.timestampMs <= 0 { tb = 0 } else if i == 0 { tb = 1 } else if ev[i - 1].timestampMs <= 0 { tb = 0 }
            else { tb = bucket(e.timestampMs - ev[i - 1].timestampMs) }
            let scale = c.formatVersion >= 2 ? Double(c.dModel).squareRoot() : 1
            let parts = [row("item_emb.weight", r).map { $0 * scale }, row("event_type_emb.weight", Int(e.type)),
                         row("time_emb.weight", tb), row("pos_emb.weight", i - start)]
            rows.append((0..<c.dModel).map { j in parts.reduce(0) { $0 + $1[j] } })
        }
        for id in q.textTokens.filter({ $0 != 0 }).prefix(c.maxTextTokens) {
            let t = row("text_emb.weight", Int(id)), m = row("modality_emb.weight", 0)
            rows.append(zip(t, m).map(+))
        }
        if c.imageDim > 0 {
            let pw = w("image_proj.weight"), pb = w("image_proj.bias"), m = row("modality_emb.weight", 1)
            for img in q.images.prefix(c.maxImages) {
                var r = [Double](repeating: 0, count: c.dModel)
                for o in 0..<c.dModel {
                    var acc: Double = pb[o] + m[o]
                    for i in 0..<c.imageDim { acc += pw[o * c.imageDim + i] * Double(img[i]) }
                    r[o] = acc
                }
                rows.append(r)
            }
        }
        var rb = 0
        if let last = ev.last, q.nowMs > 0, last.timestampMs > 0 { rb = bucket(q.nowMs - last.timestampMs) }
        var rank = zip(w("rank_token"), row("time_emb.weight", rb)).map(+)
        if c.formatVersion >= 2 {  // [RANK] position: the number of kept events
            rank = zip(rank, row("rank_pos_emb.weight", ev.count - start)).map(+)
        }
        rows.append(rank)
        return rows
    }

    func layerNorm(_ x: [Double], _ name: String) -> [Double] {
        let g = w(name + ".weight"), bb = w(name + ".bias")
        let mean = x.reduce(0, +) / Double(x.count)
        let v = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
        return x.indices.map { (x[$0] - mean) / (v + Double(c.layerNormEps)).squareRoot() * g[$0] + bb[$0] }
    }

    func linear(_ x: [Double], _ name: String) -> [Double] {
        let W = w(name + ".weight"), bias = w(name + ".bias")
        let n = bias.count, k = x.count
        return (0..<n).map { o in bias[o] + (0..<k).reduce(0.0) { $0 + W[o * k + $1] * x[$1] } }
    }

    /// The user vector of one query.
    func userVector(_ q: RankQuery) -> [Double] {
        var x = tokens(q)
        let s = x.count, d = c.dModel, dh = d / c.nHeads
        for l in 0..<c.nLayers {
            let p = "layers.\(l)."
            let n1 = x.map { layerNorm($0, p + "norm1") }
            let Q = n1.map { linear($0, p + "q") }, K = n1.map { linear($0, p + "k") }, V = n1.map { linear($0, p + "v") }
            var att = [[Double]](repeating: [Double](repeating: 0, count: d), count: s)
            for h in 0..<c.nHeads {
                for i in 0..<s {
                    var sc = [Double](repeating: 0, count: i + 1)
                    for j in 0...i {
                        var acc = 0.0
                        for t in 0..<dh { acc += Q[i][h * dh + t] * K[j][h * dh + t] }
                        sc[j] = acc / Double(dh).squareRoot()
                    }
                    let m = sc.max()!
                    sc = sc.map { exp($0 - m) }
                    let z = sc.reduce(0, +)
                    for j in 0...i { for t in 0..<dh { att[i][h * dh + t] += sc[j] / z * V[j][h * dh + t] } }
                }
            }
            let hres = (0..<s).map { i in zip(x[i], linear(att[i], p + "o")).map(+) }
            x = hres.map { h in
                let up = linear(layerNorm(h, p + "norm2"), p + "ffn_up").map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
                return zip(h, linear(up, p + "ffn_down")).map(+)
            }
        }
        let kept = min(q.events.count, c.maxEvents)
        if c.formatVersion >= 2 && kept > 0 {  // format 2 adds the newest event's output
            return layerNorm(zip(x[s - 1], x[kept - 1]).map(+), "final_norm")
        }
        return layerNorm(x[s - 1], "final_norm")
    }

    /// score(row) for every row.
    func scores(_ u: [Double]) -> [Double] {
        (0..<c.numItems).map { r in zip(u, row("item_emb.weight", r)).reduce(0) { $0 + $1.0 * $1.1 } + Double(b.floats["item_bias"]![r]) }
    }
}
