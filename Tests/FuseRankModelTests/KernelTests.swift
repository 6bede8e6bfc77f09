import Foundation
import Testing
@testable import FuseRankModel

/// Each kernel against a plain reference loop in Double. Tolerance: 1e-5 absolute (float32 sums of
/// at most a few dozen terms of magnitude ~1).
@Suite struct KernelTests {
    static let tolerance: Float = 1e-5

    func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(state: seed)
        return (0..<n).map { _ in Float(Double(rng.next() >> 11) / 9007199254740992.0) * 2 - 1 }
    }

    func maxDiff(_ a: [Float], _ b: [Double]) -> Float {
        zip(a, b).map { abs($0 - Float($1)) }.max() ?? 0
    }

    @Test func linearMatchesLoop() {
        let m = 5, n = 7, k = 9
        let x = randoms(m * k, seed: 1), w = randoms(n * k, seed: 2), b = randoms(n, seed: 3)
        var y = [Float](repeating: .nan, count: m * n)
        linear(&y, x, w, b, m: m, n: n, k: k)
        var ref = [Double](repeating: 0, count: m * n)
        for r in 0..<m { for o in 0..<n {
            ref[r * n + o] = Double(b[o]) + (0..<k).reduce(0.0) { $0 + Double(x[r * k + $1]) * Double(w[o * k + $1]) }
        } }
        #expect(maxDiff(y, ref) <= Self.tolerance)
        // Without bias, and into a strided output.
        var y2 = [Float](repeating: -7, count: m * (n + 3))
        linear(&y2, x, w, nil, m: m, n: n, k: k, ldy: n + 3)
        for r in 0..<m {
            for o in 0..<n { #expect(abs(y2[r * (n + 3) + o] - Float(ref[r * n + o] - Double(b[o]))) <= Self.tolerance) }
            for o in n..<(n + 3) { #expect(y2[r * (n + 3) + o] == -7) }
        }
    }

    @Test func layerNormMatchesLoop() {
        let rows = 3, d = 16
        let x = randoms(rows * d, seed: 4).map { $0 * 3 + 1 }, g = randoms(d, seed: 5), b = randoms(d, seed: 6)
        var y = [Float](repeating: 0, count: rows * d)
        layerNorm(&y, x, g, b, rows: rows, d: d, eps: 1e-5)
        var ref: [Double] = []
        for r in 0..<rows {
            let xr = x[(r * d)..<((r + 1) * d)].map(Double.init)
            let mean = xr.reduce(0, +) / Double(d)
            let v = xr.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
            ref += xr.indices.map { (xr[$0] - mean) / (v + 1e-5).squareRoot() * Double(g[$0]) + Double(b[$0]) }
        }
        #expect(maxDiff(y, ref) <= Self.tolerance)
    }

    @Test func softmaxMatchesLoop() {
        var x = randoms(11, seed: 7).map { $0 * 30 }  // large values: the max subtraction matters
        let ref: [Double] = {
            let xd = x.map(Double.init), m = xd.max()!
            let e = xd.map { exp($0 - m) }, z = e.reduce(0, +)
            return e.map { $0 / z }
        }()
        softmax(&x, n: x.count)
        #expect(maxDiff(x, ref) <= Self.tolerance)
        #expect(abs(x.reduce(0, +) - 1) <= Self.tolerance)
    }

    @Test func expApproxIsWithinFourTenthsOfAMillionth() {
        // Relative error against Double exp over the range softmax uses (x - max <= 0) and beyond.
        var worst = 0.0
        var x: Float = -87
        while x <= 88 {
            let e = exp(Double(x))
            worst = max(worst, abs(Double(expApprox(x)) - e) / e)
            x += 0.0137
        }
        #expect(worst < 4e-7, "max relative error \(worst)")
        #expect(expApprox(0) == 1)
        #expect(expApprox(-200) > 0 && expApprox(-200) < 2e-38)  // clamped, never NaN or negative
        #expect(expApprox(1000).isFinite)
    }

    @Test func erfApproxIsWithinHalfAMillionth() {
        // Absolute error against Double erf, both signs, through the tails where erf is +-1.
        var worst = 0.0
        var x: Float = -9
        while x <= 9 {
            worst = max(worst, abs(Double(erfApprox(x)) - erf(Double(x))))
            x += 0.00731
        }
        #expect(worst < 5e-7, "max absolute error \(worst)")
        #expect(erfApprox(0) == 0 && erfApprox(-0.5) == -erfApprox(0.5))
        #expect(erfApprox(100) == 1 && erfApprox(-100) == -1)
    }

    @Test func geluIsTheExactErfForm() {
        var x = randoms(64, seed: 8).map { $0 * 6 }
        let ref = x.map { 0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot())) }
        gelu(&x, n: x.count)
        #expect(maxDiff(x, ref) <= Self.tolerance)
        // The tanh approximation differs by ~1e-3 near |x| = 2; make sure that is not what runs.
        var two: [Float] = [2]
        gelu(&two, n: 1)
        #expect(abs(Double(two[0]) - 2 * 0.5 * (1 + erf(2 / 2.0.squareRoot()))) < 1e-6)
    }

    @Test func causalAttentionMatchesLoop() {
        let s = 6, d = 8, heads = 2, dh = 4
        let q = randoms(s * d, seed: 9), k = randoms(s * d, seed: 10), v = randoms(s * d, seed: 11)
        var ref = [Double](repeating: 0, count: s * d)
        for h in 0..<heads { for i in 0..<s {
            let sc = (0...i).map { j in (0..<dh).reduce(0.0) { $0 + Double(q[i * d + h * dh + $1]) * Double(k[j * d + h * dh + $1]) } / 2.0 }
            let m = sc.max()!, e = sc.map { exp($0 - m) }, z = e.reduce(0, +)
            for j in 0...i { for t in 0..<dh { ref[i * d + h * dh + t] += e[j] / z * Double(v[j * d + h * dh + t]) } }
        } }
        var out = [Float](repeating: .nan, count: s * d)
        var scores = [Float](repeating: 0, count: s * s)
        causalAttention(&out, q: q, k: k, v: v, scores: &scores, nq: s, s: s, d: d, heads: heads)
        #expect(maxDiff(out, ref) <= Self.tolerance)
        // Only the last query (the [RANK] shortcut of the last block) gives the last row.
        var last = [Float](repeating: .nan, count: d)
        causalAttention(&last, q: Array(q[((s - 1) * d)...]), k: k, v: v, scores: &scores, nq: 1, s: s, d: d, heads: heads)
        #expect(maxDiff(last, Array(ref[((s - 1) * d)...])) <= Self.tolerance)
    }

    /// Full attention (the forecaster's) against the plain loop: three sequences of 5, 2 and 4
    /// tokens (ragged, as the forecaster's short series make them), each attending to all of its
    /// own tokens and none of the others'.
    @Test func fullAttentionMatchesLoopWithinEachSequence() {
        let lengths = [5, 2, 4], d = 12, heads = 3, dh = 4
        let starts = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
        let rows = starts.last!, longest = lengths.max()!
        let q = randoms(rows * d, seed: 21), k = randoms(rows * d, seed: 22), v = randoms(rows * d, seed: 23)
        var ref = [Double](repeating: 0, count: rows * d)
        for (b, s) in lengths.enumerated() { for h in 0..<heads { for i in 0..<s {
            let base = starts[b]
            let qi = (base + i) * d + h * dh
            let sc = (0..<s).map { j in
                (0..<dh).reduce(0.0) { $0 + Double(q[qi + $1]) * Double(k[(base + j) * d + h * dh + $1]) } / 2.0
            }
            let m = sc.max()!, e = sc.map { exp($0 - m) }, z = e.reduce(0, +)
            for j in 0..<s { for t in 0..<dh { ref[qi + t] += e[j] / z * Double(v[(base + j) * d + h * dh + t]) } }
        } } }
        var out = [Float](repeating: .nan, count: rows * d)
        var scores = [Float](repeating: .nan, count: longest)
        var keysT = [Float](repeating: .nan, count: d * longest)
        fullAttention(&out, q: q, k: k, v: v, keysT: &keysT, scores: &scores, starts: starts, n: lengths.count, d: d,
                      heads: heads)
        #expect(maxDiff(out, ref) <= Self.tolerance)
        // Only the last 2 queries of each sequence (the forecaster's last block): those rows
        // alike, the others untouched.
        var tail = [Float](repeating: .nan, count: rows * d)
        fullAttention(&tail, q: q, k: k, v: v, keysT: &keysT, scores: &scores, starts: starts, n: lengths.count, d: d,
                      heads: heads, lastQueries: 2)
        for (b, s) in lengths.enumerated() {
            for i in 0..<s {
                let r = starts[b] + i
                let row = Array(tail[(r * d)..<((r + 1) * d)])
                if i < s - 2 {
                    #expect(row.allSatisfy { $0.isNaN })
                } else {
                    #expect(maxDiff(row, Array(ref[(r * d)..<((r + 1) * d)])) <= Self.tolerance)
                }
            }
        }
    }

    /// Blocked attention (``attentionBlock`` query rows per block) against the plain loop: queries
    /// that span several blocks, a last block cut short, and session prefixes that end inside,
    /// at and beyond a block's keys.
    @Test func blockedCausalAttentionMatchesLoopAcrossBlocksAndPrefixes() {
        let s = 3 * attentionBlock + 7, d = 8, heads = 2, dh = 4
        let q = randoms(s * d, seed: 21).map { $0 * 3 }, k = randoms(s * d, seed: 22), v = randoms(s * d, seed: 23)
        var ref = [Double](repeating: 0, count: s * d)  // every position attends to itself and all before it
        for h in 0..<heads { for i in 0..<s {
            let sc = (0...i).map { j in (0..<dh).reduce(0.0) { $0 + Double(q[i * d + h * dh + $1]) * Double(k[j * d + h * dh + $1]) } / 2.0 }
            let m = sc.max()!, e = sc.map { exp($0 - m) }, z = e.reduce(0, +)
            for j in 0...i { for t in 0..<dh { ref[i * d + h * dh + t] += e[j] / z * Double(v[j * d + h * dh + t]) } }
        } }
        var scores = [Float](repeating: .nan, count: s * s)
        for nq in [s, s - attentionBlock - 3, attentionBlock, 1] {
            for prefixRows in [0, 5, attentionBlock, s - nq + attentionBlock + 2, s] where prefixRows <= s {
                var out = [Float](repeating: .nan, count: nq * d)
                let qs = Array(q[((s - nq) * d)...])
                if prefixRows == 0 {
                    causalAttention(&out, q: qs, k: k, v: v, scores: &scores, nq: nq, s: s, d: d, heads: heads)
                } else {
                    let preK = Array(k[..<(prefixRows * d)]), preV = Array(v[..<(prefixRows * d)])
                    let restK = Array(k[(prefixRows * d)...]) + [0], restV = Array(v[(prefixRows * d)...]) + [0]
                    preK.withUnsafeBufferPointer { pk in preV.withUnsafeBufferPointer { pv in
                        causalAttention(&out, q: qs, prefix: (pk.baseAddress!, pv.baseAddress!, prefixRows), k: restK, v: restV,
                                        scores: &scores, nq: nq, s: s, d: d, heads: heads)
                    } }
                }
                #expect(maxDiff(out, Array(ref[((s - nq) * d)...])) <= Self.tolerance, "nq \(nq), prefix \(prefixRows)")
            }
        }
    }

    @Test func selectTopMatchesFullSortWithTies() {
        // Scores with many ties: ties must come out by ascending index.
        let scores: [Float] = (0..<200).map { Float(($0 * 37) % 11) }
        let reference = (0..<200).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.map(Int32.init)
        for k in [0, 1, 5, 17, 199, 200, 500] {
            var order = (0..<200).map(Int32.init)
            let top = scores.withUnsafeBufferPointer { s in
                order.withUnsafeMutableBufferPointer { selectTop($0.baseAddress!, count: 200, k: k, scores: s.baseAddress!) }
            }
            let n = (k == 0 || k > 200) ? 200 : k
            #expect(top == Array(reference.prefix(n)), "k = \(k)")
        }
    }

    @Test func timeBucketsFollowTheContract() {
        // bucket(dt) = 2 + min(B - 3, bit_length(floor(max(0, dt) / 1000)))
        #expect(TimeBucket.of(gapMs: -5, buckets: 10) == 2)
        #expect(TimeBucket.of(gapMs: 999, buckets: 10) == 2)
        #expect(TimeBucket.of(gapMs: 1000, buckets: 10) == 3)
        #expect(TimeBucket.of(gapMs: 3999, buckets: 10) == 4)
        #expect(TimeBucket.of(gapMs: 4000, buckets: 10) == 5)
        #expect(TimeBucket.of(gapMs: 1 << 40, buckets: 10) == 9)
        let ev = [BehaviourEvent(itemID: 1, timestampMs: 5000), BehaviourEvent(itemID: 1, timestampMs: 0),
                  BehaviourEvent(itemID: 1, timestampMs: 9000), BehaviourEvent(itemID: 1, timestampMs: 12000)]
        #expect((0..<4).map { TimeBucket.ofEvent($0, in: ev, buckets: 10) } == [1, 0, 0, 4])
        #expect(TimeBucket.ofRank(events: ev, nowMs: 12000, buckets: 10) == 2)
        #expect(TimeBucket.ofRank(events: ev, nowMs: 0, buckets: 10) == 0)
        #expect(TimeBucket.ofRank(events: [], nowMs: 50, buckets: 10) == 0)
    }
}
