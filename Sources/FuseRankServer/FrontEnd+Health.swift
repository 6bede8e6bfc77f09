import FuseRankWire

extension FrontEnd {
    /// `Health`: the lifecycle state and the models served; answered in every state.
    /// - Parameter body: the request frame.
    /// - Returns: the encoded `HealthReply`.
    func health(_ body: [UInt8]) throws -> [UInt8] {
        _ = try HealthRequest(bytes: body)
        let state = control.state
        return HealthReply(ready: state == .serving, state: state.rawValue, models: models.names).encode()
    }
}
