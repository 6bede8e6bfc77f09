// The wire value types (RankRequest, RankReply, Event, EventType, ScoredItem, HealthReply,
// ModelInfo, StatusCode) are the client's vocabulary: re-export them so that
// `import FuseRankClient` is all a caller needs.
@_exported import FuseRankWire
