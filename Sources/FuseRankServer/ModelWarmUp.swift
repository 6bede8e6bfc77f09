import FuseRankModel

/// Runs a freshly loaded bundle once at each batch size, so that its first requests pay no
/// first-touch cost (page faults on the mapped weights, BLAS set-up) and a bundle whose forward
/// pass fails never serves.
enum ModelWarmUp {
    /// Ranks batches of 1 ... `maxBatch` small catalogue queries.
    /// - Parameters:
    ///   - bundle: the model.
    ///   - maxBatch: the server's `--max-batch`.
    ///   - catalogueScoring: the server's `--catalogue-scoring`, so its tables are built here.
    /// - Throws: ``InputError`` if the bundle rejects the warm-up query.
    static func run(_ bundle: ModelBundle, maxBatch: Int, catalogueScoring: CatalogueScoring = .auto) throws {
        let ranker = Ranker(bundle: bundle, maxBatch: maxBatch, catalogueScoring: catalogueScoring)
        let items = Array(bundle.catalogueItemIDs.prefix(bundle.config.maxEvents))
        let query = RankQuery(
            events: items.map { BehaviourEvent(itemID: $0, type: 1, timestampMs: 0, dwellMs: 0) },
            textTokens: [], images: [], candidates: [], topK: 10, excludeSeen: false, nowMs: 0)
        let validated = try bundle.validate(query)
        for size in 1...max(1, maxBatch) {
            _ = ranker.rank(Array(repeating: validated, count: size))
        }
    }
}
