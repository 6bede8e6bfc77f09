import FuseRankModel
import FuseRankWire

extension RankRequest {
    /// The model query for this request, validated against `bundle`.
    ///
    /// `query` is tokenized with the bundle's vocabulary and appended after `text_tokens`;
    /// `top_k` 0 with no candidates becomes `defaultCatalogueTopK`.
    /// - Parameters:
    ///   - bundle: the model the request selected.
    ///   - defaultCatalogueTopK: `top_k` for a whole-catalogue request that asks for 0.
    /// - Returns: the query, ready for `Ranker.rank`.
    /// - Throws: `InputError` (from `ModelBundle.validate`) or ``RequestError/invalidArgument(_:)``
    ///   for a text token id too large for the model's id type.
    func rankQuery(for bundle: ModelBundle, defaultCatalogueTopK: Int) throws -> RankQuery {
        var tokens: [Int32] = []
        tokens.reserveCapacity(textTokens.count)
        for (index, token) in textTokens.enumerated() {
            guard let id = Int32(exactly: token) else {
                throw RequestError.invalidArgument(
                    "text_tokens[\(index)] is \(token), the vocabulary has ids 0..<\(bundle.config.textVocabSize)")
            }
            tokens.append(id)
        }
        if !query.isEmpty { tokens += bundle.vocabulary.tokenize(query) }
        let topK = (topK == 0 && candidates.isEmpty) ? defaultCatalogueTopK : Int(topK)
        var result = RankQuery(
            events: events.map {
                BehaviourEvent(itemID: $0.itemID, type: $0.type.rawValue, timestampMs: $0.timestampMs, dwellMs: $0.dwellMs)
            },
            textTokens: tokens, images: images.map(\.values), candidates: candidates,
            topK: topK, excludeSeen: excludeSeen, nowMs: nowMs)
        result.objective = try rankObjective(for: bundle)  // RankRequest+Objective.swift
        try bundle.validate(result)
        return result
    }
}
