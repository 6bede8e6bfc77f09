/// One per worker thread: runs the batched forward pass and scoring of a shared ``ModelBundle``.
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

    let config: ModelConfig
    let weights: ModelWeights
    let state: RunState
    /// The int8 table, on the int8 path.
    let quantized: QuantizedCatalogue?
    /// Where sessions' behaviour-token states are kept between requests; nil = no reuse.
    public let sessionCache: SessionCache?
    /// The live catalogue changes of the call in progress (``rank(_:overlay:)``); nil = none.
    var overlay: CatalogueOverlay?

    /// Creates a ranker and its scratch.
    /// - Parameters:
    ///   - bundle: the loaded model.
    ///   - maxBatch: the most queries one forward pass carries (at least 1).
    ///   - catalogueScoring: how to score the whole catalogue (default: by catalogue size).
    ///   - sessionCache: the cache that queries with a `sessionID` reuse and extend (shared by
    ///     every ranker of a server); nil = every query is a full pass.
    public init(bundle: ModelBundle, maxBatch: Int, catalogueScoring: CatalogueScoring = .auto, sessionCache: SessionCache? = nil) {
        BLAS.applyDefault()
        self.bundle = bundle
        self.maxBatch = max(1, maxBatch)
        self.config = bundle.config
        self.weights = bundle.weights
        self.state = RunState(config: bundle.config, maxBatch: self.maxBatch)
        self.catalogueScoring = catalogueScoring.resolved(catalogueSize: bundle.catalogueSize)
        self.quantized = self.catalogueScoring == .int8 ? bundle.quantizedCatalogue : nil
        self.sessionCache = sessionCache
    }

    /// Ranks queries in batched forward passes of up to ``maxBatch``; a query with
    /// `explainEvents > 0` gets the reasons of each returned item (docs/explanations.md).
    /// - Parameters:
    ///   - queries: queries this ranker's bundle validated.
    ///   - overlay: live catalogue changes of this bundle (content items, hidden items) to rank
    ///     with (Ranker+Overlay); nil = the bundle as it is.
    /// - Returns: one result per query, in query order.
    public func rank(_ queries: [ValidatedQuery], overlay: CatalogueOverlay? = nil) -> [RankResult] {
        precondition(overlay.map { $0.bundle === bundle } ?? true, "an overlay of another bundle")
        self.overlay = overlay?.isEmpty == false ? overlay : nil
        defer { self.overlay = nil }
        return inPasses(queries) { pass in
            encode(pass)
            // Purchase probabilities where asked for (Ranker+Purchase), next-item scores otherwise.
            var results: [RankResult]
            if let overlay = self.overlay {
                results = score(pass, overlay: overlay)
            } else {
                results = pass.contains(where: { $0.objective == .purchase }) ? scoreWithPurchase(pass) : score(pass)
            }
            if pass.contains(where: { $0.explainEvents > 0 }) { explain(pass, results: &results) }
            return results
        }
    }

    /// The user vectors (final_norm of the read-out) of the queries.
    /// - Parameter queries: queries this ranker's bundle validated.
    /// - Returns: row-major `(count, d_model)`.
    public func userVectors(_ queries: [ValidatedQuery]) -> [Float] {
        inPasses(queries) { pass in
            encode(pass)
            return Array(UnsafeBufferPointer(start: state.users, count: pass.count * config.dModel))
        }
    }

    /// The scores of every catalogue row (2 ..< num_items) for each user vector, nothing excluded.
    /// - Parameter users: row-major `(count, d_model)` user vectors (from ``userVectors(_:)``).
    /// - Returns: row-major `(count, catalogueSize)`; column j is catalogue row j + 2.
    public func catalogueScores(users: [Float]) -> [Float] {
        let d = config.dModel, n = bundle.catalogueSize
        precondition(users.count % d == 0, "user vectors come in rows of d_model = \(d)")
        let count = users.count / d
        var out: [Float] = []
        out.reserveCapacity(count * n)
        users.withUnsafeBufferPointer { u in
            for start in stride(from: 0, to: count, by: maxBatch) {
                let rows = min(maxBatch, count - start)
                scoreCatalogue(u.baseAddress! + start * d, count: rows)
                out += UnsafeBufferPointer(start: state.catalogue, count: rows * n)
            }
        }
        return out
    }

    /// Runs `body` on consecutive passes of at most ``maxBatch`` queries and joins the results.
    private func inPasses<T>(_ queries: [ValidatedQuery], _ body: ([RankQuery]) -> [T]) -> [T] {
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
