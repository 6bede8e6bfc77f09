import CFuseRankProto

/// One item's history (`SeriesHistory`): the values of consecutive periods of the forecaster's
/// length (days or weeks), oldest first.
public struct SeriesHistory: Sendable, Equatable {
    /// Echoed in ``SeriesForecast/itemID``; the forecast reads only the values.
    public var itemID: Int64
    /// Unix ms of the start of the period of `values[0]` (UTC).
    public var startMs: Int64
    /// Oldest first; NaN = missing.
    public var values: [Float]

    public init(itemID: Int64 = 0, startMs: Int64 = 0, values: [Float] = []) {
        self.itemID = itemID
        self.startMs = startMs
        self.values = values
    }

    init(c: Fuserank__V1__SeriesHistory) {
        self.init(itemID: c.item_id, startMs: c.start_ms, values: swiftArray(c.values, c.n_values))
    }

    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__SeriesHistory>, arena: CArena) {
        fuserank__v1__series_history__init(c)
        c.pointee.item_id = itemID
        c.pointee.start_ms = startMs
        c.pointee.n_values = values.count
        c.pointee.values = arena.array(values)
    }

    /// Equal when every field is, NaN values included (a missing period equals a missing period).
    public static func == (a: SeriesHistory, b: SeriesHistory) -> Bool {
        a.itemID == b.itemID && a.startMs == b.startMs && a.values.count == b.values.count
            && zip(a.values, b.values).allSatisfy { $0.bitPattern == $1.bitPattern || $0 == $1 }
    }
}

/// The request of `Forecast`: series to forecast `horizon` periods ahead, with quantile levels.
public struct ForecastRequest: WireMessage {
    public static let protoName = "fuserank.v1.ForecastRequest"

    /// Model name; empty = the server's default model.
    public var model: String
    /// The series, forecast in one pass.
    public var series: [SeriesHistory]
    /// Periods to forecast after each series' last value: 1 ... the forecaster's `max_horizon`.
    public var horizon: Int32
    /// Levels in (0, 1); empty = the forecaster's `default_quantiles`.
    public var quantiles: [Float]

    public init(model: String = "", series: [SeriesHistory] = [], horizon: Int32 = 0, quantiles: [Float] = []) {
        self.model = model
        self.series = series
        self.horizon = horizon
        self.quantiles = quantiles
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ForecastRequest()
        fuserank__v1__forecast_request__init(&c)
        c.model = arena.string(model)
        c.n_series = series.count
        c.series = arena.messages(Fuserank__V1__SeriesHistory.self, count: series.count) { series[$0].fill($1, arena: arena) }
        c.horizon = horizon
        c.n_quantiles = quantiles.count
        c.quantiles = arena.array(quantiles)
        return packed(&c, size: fuserank__v1__forecast_request__get_packed_size, pack: fuserank__v1__forecast_request__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__forecast_request__unpack, free: fuserank__v1__forecast_request__free_unpacked
        ) {
            ForecastRequest(
                model: swiftString($0.pointee.model), series: swiftMessages($0.pointee.series, $0.pointee.n_series, SeriesHistory.init(c:)),
                horizon: $0.pointee.horizon, quantiles: swiftArray($0.pointee.quantiles, $0.pointee.n_quantiles))
        }
    }

    /// Equal when every field is, NaN values and levels included.
    public static func == (a: ForecastRequest, b: ForecastRequest) -> Bool {
        a.model == b.model && a.series == b.series && a.horizon == b.horizon
            && a.quantiles.map(\.bitPattern) == b.quantiles.map(\.bitPattern)
    }
}

/// One quantile level's forecast (`QuantileValues`): a value per forecast period.
public struct QuantileValues: Sendable, Equatable {
    /// The level, in (0, 1).
    public var quantile: Float
    /// `horizon` values.
    public var values: [Float]

    public init(quantile: Float = 0, values: [Float] = []) {
        self.quantile = quantile
        self.values = values
    }

    init(c: Fuserank__V1__QuantileValues) {
        self.init(quantile: c.quantile, values: swiftArray(c.values, c.n_values))
    }

    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__QuantileValues>, arena: CArena) {
        fuserank__v1__quantile_values__init(c)
        c.pointee.quantile = quantile
        c.pointee.n_values = values.count
        c.pointee.values = arena.array(values)
    }
}

/// One series' forecast (`SeriesForecast`): the mean and the requested quantiles of each period.
public struct SeriesForecast: Sendable, Equatable {
    /// The request's `SeriesHistory.item_id`.
    public var itemID: Int64
    /// The expected value of each of the next `horizon` periods.
    public var mean: [Float]
    /// One per requested level, in request order.
    public var quantiles: [QuantileValues]

    public init(itemID: Int64 = 0, mean: [Float] = [], quantiles: [QuantileValues] = []) {
        self.itemID = itemID
        self.mean = mean
        self.quantiles = quantiles
    }

    init(c: Fuserank__V1__SeriesForecast) {
        self.init(
            itemID: c.item_id, mean: swiftArray(c.mean, c.n_mean),
            quantiles: swiftMessages(c.quantiles, c.n_quantiles, QuantileValues.init(c:)))
    }

    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__SeriesForecast>, arena: CArena) {
        fuserank__v1__series_forecast__init(c)
        c.pointee.item_id = itemID
        c.pointee.n_mean = mean.count
        c.pointee.mean = arena.array(mean)
        c.pointee.n_quantiles = quantiles.count
        c.pointee.quantiles = arena.messages(Fuserank__V1__QuantileValues.self, count: quantiles.count) {
            quantiles[$0].fill($1, arena: arena)
        }
    }
}

/// The reply of `Forecast`: one forecast per request series, in request order.
public struct ForecastReply: WireMessage {
    public static let protoName = "fuserank.v1.ForecastReply"

    public var forecasts: [SeriesForecast]

    public init(forecasts: [SeriesForecast] = []) { self.forecasts = forecasts }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ForecastReply()
        fuserank__v1__forecast_reply__init(&c)
        c.n_forecasts = forecasts.count
        c.forecasts = arena.messages(Fuserank__V1__SeriesForecast.self, count: forecasts.count) {
            forecasts[$0].fill($1, arena: arena)
        }
        return packed(&c, size: fuserank__v1__forecast_reply__get_packed_size, pack: fuserank__v1__forecast_reply__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__forecast_reply__unpack, free: fuserank__v1__forecast_reply__free_unpacked
        ) { ForecastReply(forecasts: swiftMessages($0.pointee.forecasts, $0.pointee.n_forecasts, SeriesForecast.init(c:))) }
    }
}
