/// The methods of `service fuserank.v1.Ranker`, by their gRPC paths (`RequestHeader.method`).
public enum Method: String, Sendable, CaseIterable {
    /// `Rank(RankRequest) returns (RankReply)`.
    case rank = "/fuserank.v1.Ranker/Rank"
    /// `Health(HealthRequest) returns (HealthReply)`.
    case health = "/fuserank.v1.Ranker/Health"
    /// `GetModelInfo(ModelInfoRequest) returns (ModelInfo)`.
    case getModelInfo = "/fuserank.v1.Ranker/GetModelInfo"
    /// `GetItems(GetItemsRequest) returns (GetItemsReply)`.
    case getItems = "/fuserank.v1.Ranker/GetItems"
    /// `ReloadModels(ReloadModelsRequest) returns (ReloadModelsReply)`.
    case reloadModels = "/fuserank.v1.Ranker/ReloadModels"
    /// `UpsertItems(UpsertItemsRequest) returns (UpsertItemsReply)` (admin).
    case upsertItems = "/fuserank.v1.Ranker/UpsertItems"
    /// `SetItemsAvailable(SetItemsAvailableRequest) returns (SetItemsAvailableReply)` (admin).
    case setItemsAvailable = "/fuserank.v1.Ranker/SetItemsAvailable"
    /// `Forecast(ForecastRequest) returns (ForecastReply)`.
    case forecast = "/fuserank.v1.Ranker/Forecast"

    /// The gRPC path sent in `RequestHeader.method`.
    public var path: String { rawValue }

    /// The method for a path, or nil when the path names no method of this service.
    /// - Parameter path: the `RequestHeader.method` string.
    public init?(path: String) {
        self.init(rawValue: path)
    }
}

/// How a call is framed on a ZeroMQ socket; see `docs/wire.md`.
public enum Framing {
    /// Frames after the routing envelope: `[header][message]`.
    public static let framesPerCall = 2
    /// Frames after the envelope of a call on a server's broker link (`--connect`):
    /// `[header][message][caller]`, the broker appending the caller's identity (docs/wire.md).
    public static let framesPerBrokerCall = 3
    /// A server's one-frame message on a broker link saying it serves: sent every
    /// ``announceIntervalMs`` while it is serving, so the broker routes calls to it (docs/wire.md).
    public static let serverReady = Array("fuserank.v1/server-ready".utf8)
    /// A server's one-frame message on a broker link saying it stops taking calls (draining).
    public static let serverLeaving = Array("fuserank.v1/server-leaving".utf8)
    /// How often a serving server repeats ``serverReady`` on each broker link.
    public static let announceIntervalMs = 1000
    /// A broker forgets a server it has not heard ``serverReady`` (or a reply) from in this long.
    public static let silentServerMs = 3500
}
