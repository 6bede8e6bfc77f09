import FuseRankWire

/// What the server knows about a call when it replies, for the metrics: the method, the model
/// that served it, and when the front thread read it.
struct CallInfo: Sendable {
    /// The method's short name (`Rank`, `Health`, `GetModelInfo`, `ReloadModels`), or `unknown`
    /// while the header is undecodable or names no method.
    var method = "unknown"
    /// The served model's name; empty until a model was found (an unknown name is never a label,
    /// so a caller cannot grow the series without bound).
    var model = ""
    /// When the call was read; nil for a reply with no call (never sent).
    var received: ContinuousClock.Instant?

    /// The label of a method: its path's last component.
    static func label(_ method: Method) -> String {
        String(method.path.split(separator: "/").last ?? "unknown")
    }
}
