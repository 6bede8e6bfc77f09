/// The scorer half of a ``Ranker``: user vectors -> results. Candidates or the catalogue (exact,
/// or the int8 shortlist), next-item scores or purchase probabilities, live catalogue changes and
/// explanations. What a query may return is decided once, by ``filter(_:)`` (Scorer+Filter.swift),
/// for every objective and catalogue path.
///
/// It reads the user vectors the ``UserEncoder`` left in the ``RunState`` they share.
/// Not `Sendable`: the scratch belongs to one thread.
final class Scorer {
    let bundle: ModelBundle
    let config: ModelConfig
    let weights: ModelWeights
    /// The scratch it shares with its ranker's ``UserEncoder``.
    let state: RunState
    /// How it scores the whole catalogue (``CatalogueScoring/auto`` resolved).
    let catalogueScoring: CatalogueScoring
    /// The int8 table, on the int8 path.
    let quantized: QuantizedCatalogue?
    /// A fused bundle's `sum_k w_k item_bias_k` of each catalogue item (column j = row j + 2);
    /// empty for a single model.
    let fusedItemBias: [Float]

    init(bundle: ModelBundle, state: RunState, catalogueScoring: CatalogueScoring) {
        self.bundle = bundle
        self.config = bundle.config
        self.weights = bundle.weights
        self.state = state
        self.catalogueScoring = catalogueScoring.resolved(catalogueSize: bundle.catalogueSize)
        self.quantized = self.catalogueScoring == .int8 ? bundle.quantizedCatalogue : nil
        self.fusedItemBias = bundle.fusion?.itemBias(own: bundle.weights.itemBias) ?? []
    }

    /// The results of an encoded pass (user vectors in `state.users`, query order).
    /// - Parameters:
    ///   - queries: the pass's queries.
    ///   - overlay: the call's live catalogue changes (Scorer+Overlay.swift); nil or empty = the
    ///     bundle as it is.
    /// - Returns: one result per query, in query order.
    func score(_ queries: [RankQuery], overlay: CatalogueOverlay?) -> [RankResult] {
        guard let overlay, !overlay.isEmpty else { return scoreRows(queries) }
        return score(queries, changes: overlay)
    }

    /// The results of an encoded pass on the bundle's rows: purchase probabilities where asked
    /// for (Scorer+Purchase.swift), next-item scores otherwise (Scorer+Catalogue.swift).
    func scoreRows(_ queries: [RankQuery]) -> [RankResult] {
        guard queries.contains(where: { $0.objective == .purchase }) else { return scoreNextItem(queries) }
        let d = config.dModel
        var results = [RankResult?](repeating: nil, count: queries.count)
        for (b, query) in queries.enumerated() where query.objective == .purchase {
            results[b] = rankPurchase(query, user: state.users + b * d)
        }
        // The next-item queries' user vectors move to the front, where scoreNextItem reads them.
        var rest: [RankQuery] = []
        var restIndex: [Int] = []
        for (b, query) in queries.enumerated() where query.objective != .purchase {
            if rest.count != b { (state.users + rest.count * d).update(from: state.users + b * d, count: d) }  // rest.count <= b
            rest.append(query)
            restIndex.append(b)
        }
        if !rest.isEmpty {
            for (j, r) in scoreNextItem(rest).enumerated() { results[restIndex[j]] = r }
        }
        return results.map { $0! }
    }
}
