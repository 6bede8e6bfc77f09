import FuseRankModel

/// A decoded, validated Forecast request waiting for (or held by) a worker. A worker runs one at
/// a time: its series are already one batch.
package struct ForecastJob: Sendable {
    /// The socket the request came from (an index into ``FrontEnd/sockets``).
    let socket: Int
    /// The routing frames to echo.
    let envelope: [[UInt8]]
    /// The caller's request id.
    let requestID: UInt64
    /// The model version that forecasts it; the job holds it alive until its reply is built.
    let model: ServedModel
    /// The model's forecaster, which validated the query and runs it.
    let forecaster: ForecasterBundle
    /// The query, validated by ``forecaster``.
    let query: ValidatedForecast
    /// The request's `item_id`s, in series order: echoed in the reply.
    let itemIDs: [Int64]
    /// After this instant a worker answers DEADLINE_EXCEEDED instead of forecasting.
    let deadline: ContinuousClock.Instant
    /// When the front thread read the request (metrics: queue wait, request duration).
    let received: ContinuousClock.Instant
}
