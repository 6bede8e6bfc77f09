import FuseRankModel

/// Why an evaluation cannot run.
public enum EvaluationError: Error, Sendable, CustomStringConvertible {
    /// A target or sampled candidate is not in the model's catalogue.
    case notInCatalogue(user: Int, item: Int64)
    /// Fewer than the needed items lie outside a user's history.
    case tooFewNegatives(user: Int, available: Int, needed: Int)

    /// A readable message.
    public var description: String {
        switch self {
        case let .notInCatalogue(user, item):
            return "user \(user): item \(item) is not in the model's catalogue"
        case let .tooFewNegatives(user, available, needed):
            return "user \(user): \(available) items outside the history, \(needed) needed"
        }
    }
}

/// Runs the protocols of docs/evaluation.md through the serving engine (the same encoder and
/// scoring a request takes), batching users through one ``Ranker``.
public final class Evaluator {
    /// The negatives of the sampled protocol.
    public static let negatives = 100

    /// The ranker the users go through.
    public let ranker: Ranker
    private var bundle: ModelBundle { ranker.bundle }

    /// Creates an evaluator whose batches hold `batchSize` users.
    public init(bundle: ModelBundle, batchSize: Int = 64) {
        ranker = Ranker(bundle: bundle, maxBatch: batchSize)
    }

    /// The user vectors of the cases' queries, row-major (count, d_model).
    /// - Throws: ``InputError`` for a query the model rejects.
    public func userVectors(_ cases: [EvaluationCase]) throws -> [Float] {
        try ranker.userVectors(cases.map { try bundle.validate($0.query) })
    }

    /// Full ranking: every catalogue item scored (one GEMM per batch), the input's items excluded,
    /// the target never excluded.
    /// - Parameter users: the cases' user vectors from ``userVectors(_:)``.
    /// - Throws: ``EvaluationError/notInCatalogue(user:item:)`` for a target the model does not know.
    public func fullRanking(_ cases: [EvaluationCase], users: [Float]) throws -> RankingMetrics {
        let d = bundle.userDimension, n = bundle.catalogueSize
        var metrics = RankingMetrics()
        for start in stride(from: 0, to: cases.count, by: ranker.maxBatch) {
            let count = min(ranker.maxBatch, cases.count - start)
            let scores = ranker.catalogueScores(users: Array(users[(start * d)..<((start + count) * d)]))
            for b in 0..<count {
                let c = cases[start + b]
                guard let row = bundle.row(ofItem: c.target) else {
                    throw EvaluationError.notInCatalogue(user: c.user, item: c.target)
                }
                let excluded = Set(c.query.events.compactMap { bundle.row(ofItem: $0.itemID).map { $0 - 2 } })
                let (g, e) = scores.withUnsafeBufferPointer {
                    RankingMetrics.counts(of: row - 2, scores: UnsafeBufferPointer(rebasing: $0[(b * n)..<((b + 1) * n)]), excluded: excluded)
                }
                metrics.add(greater: g, equal: e)
            }
        }
        return metrics
    }

    /// Sampled: the target among ``negatives`` items drawn with ``negativeItems(seed:user:catalogue:history:)``.
    /// - Parameters:
    ///   - users: the cases' user vectors.
    ///   - catalogue: the dataset's item ids, ascending.
    ///   - seed: the sampling seed.
    /// - Throws: ``EvaluationError`` for an unknown item or a user with too few negatives.
    public func sampled(_ cases: [EvaluationCase], users: [Float], catalogue: [Int64], seed: UInt64) throws -> RankingMetrics {
        let d = bundle.userDimension
        var metrics = RankingMetrics()
        var scores = [Float](repeating: 0, count: Self.negatives + 1)
        for (i, c) in cases.enumerated() {
            let items = try [c.target] + Self.negativeItems(seed: seed, user: c.user, catalogue: catalogue, history: c.history)
            for (j, item) in items.enumerated() {
                let score = users.withUnsafeBufferPointer {
                    bundle.score(user: UnsafeBufferPointer(rebasing: $0[(i * d)..<((i + 1) * d)]), item: item)
                }
                guard let score else { throw EvaluationError.notInCatalogue(user: c.user, item: item) }
                scores[j] = score
            }
            let (g, e) = scores.withUnsafeBufferPointer { RankingMetrics.counts(of: 0, scores: $0) }
            metrics.add(greater: g, equal: e)
        }
        return metrics
    }

    /// Popularity baseline: items ranked by training-event counts, the input's items excluded.
    public func popularity(_ cases: [EvaluationCase], sequences: [UserSequence]) throws -> RankingMetrics {
        let ids = bundle.catalogueItemIDs
        let index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($0.element, $0.offset) })
        let baseline = PopularityBaseline(sequences: sequences, index: index, catalogueSize: ids.count)
        var metrics = RankingMetrics()
        for c in cases {
            guard let t = index[c.target] else { throw EvaluationError.notInCatalogue(user: c.user, item: c.target) }
            let excluded = Set(c.query.events.compactMap { index[$0.itemID] })
            let (g, e) = baseline.position(of: t, excluded: excluded)
            metrics.add(greater: g, equal: e)
        }
        return metrics
    }

    /// The sampled negatives of docs/evaluation.md: `catalogue[next() % count]` from
    /// `SplitMix64(seed, user)` until ``negatives`` distinct items outside `history`, in drawing order.
    /// - Throws: ``EvaluationError/tooFewNegatives(user:available:needed:)``.
    public static func negativeItems(seed: UInt64, user: Int, catalogue: [Int64], history: Set<Int64>,
                                     count: Int = negatives) throws -> [Int64] {
        let available = Set(catalogue).subtracting(history).count
        guard available >= count else {
            throw EvaluationError.tooFewNegatives(user: user, available: available, needed: count)
        }
        var rng = SplitMix64(seed: seed, user: UInt64(user))
        var chosen = Set<Int64>()
        var out: [Int64] = []
        out.reserveCapacity(count)
        let n = UInt64(catalogue.count)
        while out.count < count {
            let item = catalogue[Int(rng.below(n))]
            if history.contains(item) || chosen.contains(item) { continue }
            chosen.insert(item)
            out.append(item)
        }
        return out
    }
}
