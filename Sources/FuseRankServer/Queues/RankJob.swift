import FuseRankModel

/// A decoded, validated Rank request waiting for (or held by) a worker.
package struct RankJob: Sendable {
    /// The socket the request came from (an index into ``FrontEnd/sockets``).
    let socket: Int
    /// The routing frames to echo.
    let envelope: [[UInt8]]
    /// The caller's request id.
    let requestID: UInt64
    /// The model version that ranks it; the job holds it alive until its reply is built, even if
    /// a newer version is swapped in or the model is removed meanwhile.
    let model: ServedModel
    /// The model's recommender, which validated the query and ranks it.
    let bundle: ModelBundle
    /// The model query, validated by ``bundle``.
    let query: ValidatedQuery
    /// After this instant a worker answers DEADLINE_EXCEEDED instead of ranking.
    let deadline: ContinuousClock.Instant
    /// When the front thread read the request (metrics: queue wait, request duration).
    let received: ContinuousClock.Instant

    init(
        socket: Int = 0, envelope: [[UInt8]], requestID: UInt64, model: ServedModel, bundle: ModelBundle,
        query: ValidatedQuery, deadline: ContinuousClock.Instant, received: ContinuousClock.Instant = .now
    ) {
        self.socket = socket
        self.envelope = envelope
        self.requestID = requestID
        self.model = model
        self.bundle = bundle
        self.query = query
        self.deadline = deadline
        self.received = received
    }

    /// A job for a bundle served under its own name and version, with one worker's engines as the
    /// load path would build them (tests).
    init(
        socket: Int = 0, envelope: [[UInt8]], requestID: UInt64, bundle: ModelBundle, query: ValidatedQuery,
        deadline: ContinuousClock.Instant
    ) {
        let model = ServedModel(name: bundle.config.name, version: bundle.config.version, bundle: bundle, origin: .fixed)
        model.engines.build(model.contents, shape: ModelEngines.Shape(workers: 1, maxBatch: 8))
        self.init(socket: socket, envelope: envelope, requestID: requestID, model: model, bundle: bundle, query: query, deadline: deadline)
    }
}
