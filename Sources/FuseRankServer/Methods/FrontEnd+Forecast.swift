import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `Forecast`'s run stage: validates the request with the admitted model's forecaster and
    /// queues it for a worker, whose reply (``ForecastReply``) comes back through ``ReplyQueue``.
    /// Throws (an immediate error reply) when the request cannot run: FAILED_PRECONDITION for a
    /// model without a forecaster, INVALID_ARGUMENT naming the field.
    /// - Parameters:
    ///   - request: the decoded request.
    ///   - model: the admitted model version.
    ///   - call: the call (socket, envelope, header; `received` starts the deadline).
    func queueForecast(_ request: ForecastRequest, model: ServedModel, call: MethodCall) throws -> MethodOutcome {
        let forecaster = try model.forecastModel()
        let query = try forecaster.validate(ForecastQuery(wire: request))
        let job = ForecastJob(
            socket: call.incoming.socket, envelope: call.incoming.envelope, requestID: call.requestID, model: model,
            forecaster: forecaster, query: query, itemIDs: request.series.map(\.itemID), deadline: deadline(of: call),
            received: call.info.received ?? .now)
        return try enqueue { queue.push(job) }
    }
}

// The server boundary of a Forecast call, both directions: wire request -> model query,
// model results -> wire reply.

extension ForecastQuery {
    /// The model query of a wire request (validated next by the forecaster it selected).
    /// - Parameter request: the decoded `ForecastRequest`.
    init(wire request: ForecastRequest) {
        self.init(
            series: request.series.map { ForecastSeries(startMs: $0.startMs, values: $0.values) },
            horizon: Int(request.horizon), quantiles: request.quantiles)
    }
}

extension ForecastReply {
    /// The wire reply of the model's forecasts, in request order.
    /// - Parameters:
    ///   - result: one forecast per series, as the forecaster returned them.
    ///   - query: the validated query (its resolved levels label the quantiles).
    ///   - itemIDs: the request's item ids, echoed.
    init(result: [SeriesForecastResult], query: ValidatedForecast, itemIDs: [Int64]) {
        self.init(forecasts: zip(itemIDs, result).map { id, forecast in
            SeriesForecast(
                itemID: id, mean: forecast.mean,
                quantiles: zip(query.levels, forecast.quantiles).map { QuantileValues(quantile: $0, values: $1) })
        })
    }
}
