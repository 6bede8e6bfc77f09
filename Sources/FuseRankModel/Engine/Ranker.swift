/// One per worker thread: runs the batched forward pass and scoring of a shared ``ModelBundle``:
/// a ``UserEncoder`` (request -> user vector, UserEncoder.swift) and a ``Scorer`` (user vector -> result,
/// Scorer.swift) on one scratch.
///
/// Its ``RunState`` is allocated once in `init`, sized for `maxBatch` requests of the longest
/// token sequence (`max_events + max_text_tokens + max_images + 1`), so the forward pass does not
/// allocate. Not `Sendable`: the scratch belongs to one thread.
public final class Ranker {
    /// The model this ranker runs.
    public let bundle: ModelBundle
    /// The most queries one forward pass carries; longer calls run in passes of this size.
    public let maxBatch: Int

    /// How it scores the whole catalogue (``CatalogueScoring/auto`` resolved).
    public let catalogueScoring: CatalogueScoring

    /// Requests -> user vectors (with the session cache).
    let encoder: UserEncoder
    /// User vectors -> results (candidates, catalogue, purchase, explanations).
    let scorer: Scorer
    /// A fused bundle's other members (Ranker+Fusion.swift), each with its own scratch; empty for
    /// a single model.
    let members: [Ranker]
    /// The scratch the two share: the scorer reads what the encoder wrote.
    var state: RunState { encoder.state }
    /// The bytes of this ranker's scratch, its members' included: what one worker holds beside
    /// the shared bundle.
    public var scratchBytes: Int { state.bytes + members.reduce(0) { $0 + $1.scratchBytes } }
    /// Where sessions' behaviour-token states are kept between requests; nil = no reuse.
    public var sessionCache: SessionCache? { encoder.sessionCache }

    /// Creates a ranker and its scratch.
    /// - Parameters:
    ///   - bundle: the loaded model.
    ///   - maxBatch: the most queries one forward pass carries (at least 1).
    ///   - catalogueScoring: how to score the whole catalogue (default: by catalogue size).
    ///   - sessionCache: the cache that queries with a `sessionID` reuse and extend (shared by
    ///     every ranker of a server); nil = every query is a full pass.
    public convenience init(bundle: ModelBundle, maxBatch: Int, catalogueScoring: CatalogueScoring = .auto, sessionCache: SessionCache? = nil) {
        self.init(bundle: bundle, maxBatch: maxBatch, catalogueScoring: catalogueScoring, sessionCache: sessionCache,
                  member: false)
    }

    /// - Parameter member: a fused bundle's member, whose catalogue scores go straight into the
    ///   bundle's own buffer (``Scorer/fuseCatalogue(members:weights:count:queries:)``): its
    ///   scratch has no catalogue buffer (`maxBatch * num_items` floats).
    private init(bundle: ModelBundle, maxBatch: Int, catalogueScoring: CatalogueScoring, sessionCache: SessionCache?,
                 member: Bool) {
        BLAS.applyDefault()
        self.bundle = bundle
        self.maxBatch = max(1, maxBatch)
        let state = RunState(config: bundle.config, maxBatch: self.maxBatch, scoresCatalogue: !member)
        self.encoder = UserEncoder(bundle: bundle, state: state, maxBatch: self.maxBatch, sessionCache: sessionCache)
        // A fused bundle sums its members' exact scores: no int8 path.
        self.scorer = Scorer(bundle: bundle, state: state, catalogueScoring: bundle.fusion == nil ? catalogueScoring : .exact)
        self.members = bundle.fusion?.members.map {
            Ranker(bundle: $0, maxBatch: maxBatch, catalogueScoring: .exact, sessionCache: nil, member: true)
        } ?? []
        self.catalogueScoring = scorer.catalogueScoring
    }

    /// Ranks queries in batched forward passes of up to ``maxBatch``; a query with
    /// `explainEvents > 0` gets the reasons of each returned item (docs/explanations.md).
    /// - Parameters:
    ///   - queries: queries this ranker's bundle validated.
    ///   - overlay: live catalogue changes of this bundle (content items, hidden items) to rank
    ///     with (Scorer+Overlay.swift); nil = the bundle as it is.
    /// - Returns: one result per query, in query order.
    public func rank(_ queries: [ValidatedQuery], overlay: CatalogueOverlay? = nil) -> [RankResult] {
        precondition(overlay.map { $0.bundle === bundle } ?? true, "an overlay of another bundle")
        let overlay = overlay?.isEmpty == false ? overlay : nil
        return inPasses(queries) { pass in
            if !members.isEmpty { return rankFused(pass, overlay: overlay) }
            encoder.encode(pass, overlay: overlay)
            var results = scorer.score(pass, overlay: overlay)
            if pass.contains(where: { $0.explainEvents > 0 }) {
                scorer.explain(pass, results: &results, overlay: overlay, encoder: encoder)
            }
            return results
        }
    }

    /// The user vectors (final_norm of the read-out) of the queries; a fused bundle's are its
    /// members' side by side, the bundle's own first.
    /// - Parameter queries: queries this ranker's bundle validated.
    /// - Returns: row-major `(count, bundle.userDimension)`.
    public func userVectors(_ queries: [ValidatedQuery]) -> [Float] {
        if !members.isEmpty { return inPasses(queries) { fusedUserVectors($0) } }
        return inPasses(queries) { pass in
            encoder.encode(pass, overlay: nil)
            return Array(UnsafeBufferPointer(start: state.users, count: pass.count * bundle.config.dModel))
        }
    }

    /// The scores of every catalogue row (2 ..< num_items) for each user vector, nothing excluded
    /// (a fused bundle's: the weighted sum of its members').
    /// - Parameter users: row-major `(count, bundle.userDimension)` user vectors (from ``userVectors(_:)``).
    /// - Returns: row-major `(count, catalogueSize)`; column j is catalogue row j + 2.
    public func catalogueScores(users: [Float]) -> [Float] {
        if !members.isEmpty { return fusedCatalogueScores(users: users) }
        let d = bundle.config.dModel, n = bundle.catalogueSize
        precondition(users.count % d == 0, "user vectors come in rows of d_model = \(d)")
        let count = users.count / d
        var out: [Float] = []
        out.reserveCapacity(count * n)
        users.withUnsafeBufferPointer { u in
            for start in stride(from: 0, to: count, by: maxBatch) {
                let rows = min(maxBatch, count - start)
                scorer.scoreCatalogue(u.baseAddress! + start * d, count: rows)
                out += UnsafeBufferPointer(start: state.catalogue, count: rows * n)
            }
        }
        return out
    }

    /// Runs the encoder on one pass (at most ``maxBatch`` queries) with no overlay (for tests).
    func encode(_ queries: [RankQuery]) { encoder.encode(queries, overlay: nil) }

    /// The explanation shortlist of one query, as ``Scorer/explain(_:results:overlay:encoder:)``
    /// computes it (for the golden tests).
    func shortlistDetails(_ query: ValidatedQuery) -> [Int] {
        let q = query.query
        let c = bundle.config
        return Explainer.shortlist(kept: min(q.events.count, c.maxEvents), length: bundle.tokenCount(q), budget: Explainer.budgetRows(c))
    }

    /// Runs `body` on consecutive passes of at most ``maxBatch`` queries and joins the results.
    func inPasses<T>(_ queries: [ValidatedQuery], _ body: ([RankQuery]) -> [T]) -> [T] {
        let me = ObjectIdentifier(bundle)
        precondition(queries.allSatisfy { $0.bundle == me }, "a query validated by another bundle")
        var out: [T] = []
        out.reserveCapacity(queries.count)
        for start in stride(from: 0, to: queries.count, by: maxBatch) {
            out += body(queries[start..<min(queries.count, start + maxBatch)].map(\.query))
        }
        return out
    }
}
