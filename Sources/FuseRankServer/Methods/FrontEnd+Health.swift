import FuseRankWire

extension FrontEnd {
    /// `Health`'s run stage: the lifecycle state and the models served with their versions; answered in every
    /// state, at once (also while the models load: that is the liveness answer). `ready` is true
    /// once the models given at start have loaded and warmed up, until draining; with a catalogue
    /// log, also only while every model has read its stream to the end since the replica started
    /// or last lost Redis (its position is in the reply).
    /// - Parameter request: the decoded request (it has no fields).
    /// - Returns: the encoded `HealthReply`.
    func health(_ request: HealthRequest) -> [UInt8] {
        let state = control.state
        let served = models.snapshot
        let log = loader?.catalogueLogPositions?.snapshot() ?? []
        return HealthReply(
            ready: state == .serving && log.allSatisfy(\.caughtUp), state: state.rawValue, models: served.map(\.name),
            modelVersions: served.map { ModelVersion(model: $0.name, version: $0.version) },
            catalogueLog: log
        ).encode()
    }
}
