import FuseRankWire

extension FrontEnd {
    /// `ReloadModels`: asks the loader thread to rescan every model repository now; the reply (each
    /// model's served version and last load error) comes back through ``ReplyQueue`` once the scan
    /// and its loads are done. UNAVAILABLE while starting or draining.
    /// - Parameters:
    ///   - body: the request frame.
    ///   - call: the call, for its envelope.
    ///   - requestID: its id.
    ///   - info: the call's metric labels.
    func reloadModels(_ body: [UInt8], call: IncomingCall, requestID: UInt64, info: CallInfo) throws {
        try refuseWhileDraining()
        _ = try ReloadModelsRequest(bytes: body)
        guard let loader else {
            throw RequestError(code: .failedPrecondition, message: "this server has no model loader")
        }
        let finished = self.finished
        let envelope = call.envelope
        let socket = call.socket
        loader.requestScan { statuses in
            let reply = ReloadModelsReply(models: statuses)
            finished.push([Reply.ok(socket: socket, envelope: envelope, requestID: requestID, body: reply.encode()).labelled(info)])
        }
    }
}
