/// One series of a forecast request: the values of consecutive periods, oldest first.
public struct ForecastSeries: Sendable, Equatable {
    /// Unix ms of the start of the period of `values[0]` (UTC).
    public var startMs: Int64
    /// Oldest first; NaN = missing.
    public var values: [Float]

    public init(startMs: Int64, values: [Float]) {
        self.startMs = startMs
        self.values = values
    }
}

/// What a forecast request asks: series, how many periods ahead, which quantile levels.
public struct ForecastQuery: Sendable {
    /// The most series one request may carry.
    public static let maxSeries = 10_000
    /// The most values one series may carry (only the last `context` are read).
    public static let maxValues = 10_000
    /// The largest |start_ms| accepted: about 31,000 years either side of 1970, far from overflow.
    public static let maxAbsStartMs: Int64 = 1_000_000_000_000_000

    public var series: [ForecastSeries]
    /// Periods to forecast after each series' last value: 1 ... `max_horizon`.
    public var horizon: Int
    /// Levels in (0, 1); empty = the forecaster's `default_quantiles`.
    public var quantiles: [Float]

    public init(series: [ForecastSeries], horizon: Int, quantiles: [Float] = []) {
        self.series = series
        self.horizon = horizon
        self.quantiles = quantiles
    }
}

/// A ``ForecastQuery`` that ``ForecasterBundle/validate(_:)`` accepted: the only input a
/// ``Forecaster`` takes, with its quantile levels resolved.
public struct ValidatedForecast: Sendable {
    /// The query as validated.
    public let query: ForecastQuery
    /// The levels the reply gives, in order: the request's, or `default_quantiles`.
    public let levels: [Float]
    /// The forecaster that validated it.
    let bundle: ObjectIdentifier
}

/// Why a forecast request cannot run. The server maps every case to INVALID_ARGUMENT and uses
/// ``description`` (which names the field) as the status message.
public enum ForecastInputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No series.
    case noSeries
    /// More series than ``ForecastQuery/maxSeries``.
    case tooManySeries(count: Int, limit: Int)
    /// A series without values.
    case emptySeries(index: Int)
    /// A series with more values than ``ForecastQuery/maxValues``.
    case tooManyValues(index: Int, count: Int, limit: Int)
    /// An infinite value (NaN is allowed: missing).
    case infiniteValue(index: Int, position: Int)
    /// A `start_ms` beyond ``ForecastQuery/maxAbsStartMs``.
    case startMs(index: Int, value: Int64)
    /// A horizon outside `1 ... max_horizon`.
    case horizon(Int, maxHorizon: Int)
    /// A quantile level outside (0, 1), or NaN.
    case quantile(index: Int, value: Float)

    /// A readable message naming the offending field.
    public var description: String {
        switch self {
        case .noSeries:
            return "series is empty; send at least one series"
        case let .tooManySeries(count, limit):
            return "series has \(count) entries, at most \(limit) are allowed per request"
        case let .emptySeries(index):
            return "series[\(index)].values is empty; a series needs at least one value (NaN = missing)"
        case let .tooManyValues(index, count, limit):
            return "series[\(index)].values has \(count) values, at most \(limit) are allowed"
        case let .infiniteValue(index, position):
            return "series[\(index)].values[\(position)] is infinite (NaN marks a missing value)"
        case let .startMs(index, value):
            return "series[\(index)].start_ms is \(value), expected within ±\(ForecastQuery.maxAbsStartMs)"
        case let .horizon(horizon, maxHorizon):
            return "horizon is \(horizon), the model forecasts 1...\(maxHorizon) periods"
        case let .quantile(index, value):
            return "quantiles[\(index)] is \(value), expected a level in (0, 1)"
        }
    }
}

extension ForecasterBundle {
    /// Checks a forecast query against the forecaster (limits, values, horizon, levels).
    /// - Parameter query: the decoded request.
    /// - Returns: the query, now accepted by this bundle's forecasters, its levels resolved.
    /// - Throws: ``ForecastInputError`` for the first offending field.
    public func validate(_ query: ForecastQuery) throws(ForecastInputError) -> ValidatedForecast {
        if query.series.isEmpty { throw .noSeries }
        if query.series.count > ForecastQuery.maxSeries {
            throw .tooManySeries(count: query.series.count, limit: ForecastQuery.maxSeries)
        }
        if !(1...config.maxHorizon).contains(query.horizon) { throw .horizon(query.horizon, maxHorizon: config.maxHorizon) }
        for (i, level) in query.quantiles.enumerated() where !(level > 0 && level < 1) {
            throw .quantile(index: i, value: level)
        }
        for (i, series) in query.series.enumerated() {
            if series.values.isEmpty { throw .emptySeries(index: i) }
            if series.values.count > ForecastQuery.maxValues {
                throw .tooManyValues(index: i, count: series.values.count, limit: ForecastQuery.maxValues)
            }
            if series.startMs > ForecastQuery.maxAbsStartMs || series.startMs < -ForecastQuery.maxAbsStartMs {
                throw .startMs(index: i, value: series.startMs)
            }
            if let j = series.values.firstIndex(where: { $0.isInfinite }) { throw .infiniteValue(index: i, position: j) }
        }
        return ValidatedForecast(
            query: query, levels: query.quantiles.isEmpty ? config.defaultQuantiles : query.quantiles,
            bundle: ObjectIdentifier(self))
    }
}
