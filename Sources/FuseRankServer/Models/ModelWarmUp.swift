import FuseRankModel

/// Runs a freshly loaded bundle once at each batch size (its forecaster once), so that its first
/// requests pay no first-touch cost (page faults on the mapped weights, BLAS set-up) and a bundle
/// whose forward pass fails never serves.
package enum ModelWarmUp {
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

    /// Warms up whatever a bundle folder holds: its recommender as above, and its forecaster with
    /// one forecast of a few series at the full horizon.
    /// - Throws: ``InputError`` or ``ForecastInputError`` if the bundle rejects the warm-up query.
    package static func run(_ contents: BundleContents, maxBatch: Int, catalogueScoring: CatalogueScoring = .auto) throws {
        if let bundle = contents.recommender { try run(bundle, maxBatch: maxBatch, catalogueScoring: catalogueScoring) }
        if let forecaster = contents.forecaster { try run(forecaster) }
    }

    /// Forecasts 4 series of `context` values (one of them all missing) at `max_horizon`, with
    /// every emitted level.
    /// - Throws: ``ForecastInputError`` if the forecaster rejects the warm-up query.
    static func run(_ forecaster: ForecasterBundle) throws {
        let c = forecaster.config
        let series = (0..<4).map { s in
            ForecastSeries(
                startMs: 1_704_067_200_000,  // 2024-01-01, a Monday
                values: (0..<c.context).map { s == 3 ? .nan : Float(($0 * (s + 1)) % 7) })
        }
        let query = try forecaster.validate(ForecastQuery(series: series, horizon: c.maxHorizon, quantiles: c.quantiles))
        _ = Forecaster(bundle: forecaster, maxSeries: series.count).forecast(query)
    }
}
