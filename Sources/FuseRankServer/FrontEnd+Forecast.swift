import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `Forecast`: decodes and validates the request and queues it for a worker, whose reply comes
    /// back through ``ReplyQueue``. Throws (an immediate error reply) when the request cannot run:
    /// FAILED_PRECONDITION for a model without a forecaster, INVALID_ARGUMENT naming the field.
    /// - Parameters:
    ///   - body: the request frame.
    ///   - call: the call, for its socket and envelope.
    ///   - header: its header (request id, deadline).
    ///   - info: the call's metric labels (the model is set once found); `received` starts the deadline.
    func forecast(_ body: [UInt8], call: IncomingCall, header: RequestHeader, info: inout CallInfo) throws {
        try refuseWhileDraining()
        let request = try ForecastRequest(bytes: body)
        let model = try servedModel(named: request.model)
        info.model = model.name
        let forecaster = try model.forecastModel()
        let query = try forecaster.validate(ForecastQuery(wire: request))
        let timeoutMs = header.timeoutMs == 0 ? configuration.defaultTimeoutMs : header.timeoutMs
        let received = info.received ?? .now
        let job = ForecastJob(
            socket: call.socket, envelope: call.envelope, requestID: header.requestID, model: model, forecaster: forecaster,
            query: query, itemIDs: request.series.map(\.itemID), deadline: received + .milliseconds(Int64(timeoutMs)),
            received: received)
        guard queue.push(job) else {
            throw RequestError(
                code: .unavailable,
                message: "the server is overloaded: \(queue.capacity) requests are already queued; retry with backoff")
        }
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
