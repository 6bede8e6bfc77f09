/// HR@k, NDCG@k and MRR over users, from the 1-based rank of each user's target.
///
/// The one place these metrics are computed (the eval tool and the tests use it).
/// HR@k = share of users whose target ranks <= k; NDCG@k = mean of `1 / log2(rank + 1)` for ranks
/// <= k (one relevant item, so the ideal DCG is 1); MRR = mean of `1 / rank` over the full ranking.
public struct RankingMetrics: Sendable, Equatable {
    /// The cutoff k of HR@k and NDCG@k.
    public let cutoff: Int
    /// Users added.
    public private(set) var users = 0
    private var hits = 0
    private var dcgSum = 0.0
    private var reciprocalSum = 0.0

    /// Creates empty metrics with cutoff `k`.
    public init(cutoff k: Int = 10) { cutoff = k }

    /// Adds one user whose target ranked at `rank` (1 = first).
    public mutating func add(rank: Int) {
        precondition(rank >= 1, "ranks are 1-based")
        users += 1
        if rank <= cutoff {
            hits += 1
            dcgSum += 1 / log2(Double(rank) + 1)
        }
        reciprocalSum += 1 / Double(rank)
    }

    /// Merges the users of `other` (same cutoff).
    public mutating func merge(_ other: RankingMetrics) {
        precondition(other.cutoff == cutoff)
        users += other.users
        hits += other.hits
        dcgSum += other.dcgSum
        reciprocalSum += other.reciprocalSum
    }

    /// HR@k (0 with no users).
    public var hitRate: Double { users == 0 ? 0 : Double(hits) / Double(users) }
    /// NDCG@k (0 with no users).
    public var ndcg: Double { users == 0 ? 0 : dcgSum / Double(users) }
    /// MRR over the full ranking (0 with no users).
    public var mrr: Double { users == 0 ? 0 : reciprocalSum / Double(users) }

    /// The 1-based rank of index `target` among `scores`, as the served ranking orders them.
    ///
    /// Higher score first, equal scores by ascending index (the ranking's tie rule), so
    /// rank = 1 + #{j : s[j] > s[t]} + #{j < t : s[j] == s[t]}, over indices j not in `excluded`.
    /// The target is never excluded.
    /// - Parameters:
    ///   - target: the index of the target.
    ///   - scores: one score per index.
    ///   - excluded: indices left out of the ranking (seen items).
    public static func rank(of target: Int, scores: UnsafeBufferPointer<Float>, excluded: Set<Int> = []) -> Int {
        let t = scores[target]
        var rank = 1
        for j in 0..<scores.count where j != target {
            let s = scores[j]
            if s > t || (s == t && j < target) {
                if !excluded.contains(j) { rank += 1 }
            }
        }
        return rank
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
