import FuseRankModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HR@k, NDCG@k and MRR averaged over users, with the exact tie rule of docs/evaluation.md.
///
/// The one place the Swift side computes these metrics (the eval tool and the tests use it).
/// With `g` items scored strictly above a user's target and `e` other items scored equal to it,
/// the target's position is uniform over `g+1 ... g+e+1` and each metric is its expectation:
/// HR@k = share of those positions `<= k`; NDCG@k = mean of `1 / log2(p + 1)` for `p <= k`
/// (one relevant item: the ideal DCG is 1); MRR = mean of `1 / p`.
public struct RankingMetrics: Sendable, Equatable {
    /// The cutoff k of HR@k and NDCG@k.
    public let cutoff: Int
    /// Users added.
    public private(set) var users = 0
    private var hitSum = 0.0
    private var dcgSum = 0.0
    private var reciprocalSum = 0.0

    /// Creates empty metrics with cutoff `k`.
    public init(cutoff k: Int = 10) { cutoff = k }

    /// Adds one user whose target has `greater` items above it and `equal` other items tied with it.
    public mutating func add(greater g: Int, equal e: Int) {
        precondition(g >= 0 && e >= 0, "counts are >= 0")
        let first = g + 1, last = g + e + 1
        let n = Double(e + 1)
        users += 1
        if first <= cutoff {
            let top = min(cutoff, last)
            hitSum += Double(top - first + 1) / n
            var dcg = 0.0
            for p in first...top { dcg += 1 / log2(Double(p) + 1) }
            dcgSum += dcg / n
        }
        reciprocalSum += (Self.harmonic(last) - Self.harmonic(first - 1)) / n
    }

    /// Adds one user whose target ranked exactly at `rank` (1 = first; no ties).
    public mutating func add(rank: Int) {
        precondition(rank >= 1, "ranks are 1-based")
        add(greater: rank - 1, equal: 0)
    }

    /// Merges the users of `other` (same cutoff).
    public mutating func merge(_ other: RankingMetrics) {
        precondition(other.cutoff == cutoff)
        users += other.users
        hitSum += other.hitSum
        dcgSum += other.dcgSum
        reciprocalSum += other.reciprocalSum
    }

    /// HR@k (0 with no users).
    public var hitRate: Double { users == 0 ? 0 : hitSum / Double(users) }
    /// NDCG@k (0 with no users).
    public var ndcg: Double { users == 0 ? 0 : dcgSum / Double(users) }
    /// MRR over the full ranking (0 with no users).
    public var mrr: Double { users == 0 ? 0 : reciprocalSum / Double(users) }

    /// Items scored above index `target`, and other items tied with it, over indices not in `excluded`.
    ///
    /// The target itself is never excluded. NaN scores compare as neither above nor equal.
    /// - Parameters:
    ///   - target: the index of the target.
    ///   - scores: one score per index.
    ///   - excluded: indices left out of the ranking (seen items).
    public static func counts(of target: Int, scores: UnsafeBufferPointer<Float>, excluded: Set<Int> = [])
        -> (greater: Int, equal: Int)
    {
        let t = scores[target]
        var greater = 0, equal = 0
        for j in 0..<scores.count where j != target {
            let s = scores[j]
            if s > t {
                if !excluded.contains(j) { greater += 1 }
            } else if s == t {
                if !excluded.contains(j) { equal += 1 }
            }
        }
        return (greater, equal)
    }

    /// H(n) = 1 + 1/2 + ... + 1/n: exact below 10^4, the asymptotic series above (as metrics.py).
    static func harmonic(_ n: Int) -> Double {
        if n <= 0 { return 0 }
        if n < 10_000 {
            var s = 0.0
            for p in 1...n { s += 1 / Double(p) }
            return s
        }
        let inv = 1 / Double(n)
        return log(Double(n)) + 0.5772156649015329 + 0.5 * inv - inv * inv / 12 + pow(inv, 4) / 120
    }
}
