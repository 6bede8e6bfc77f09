import FuseRankWire

extension FrontEnd {
    /// `ReloadModels`' run stage: asks the loader thread to rescan every model repository now; the
    /// reply (each model's served version and last load error) comes back through ``ReplyQueue``
    /// once the scan and its loads are done.
    /// - Parameter call: the call, for its socket, envelope and id.
    func reloadModels(call: MethodCall) throws -> MethodOutcome {
        guard let loader else {
            throw RequestError(code: .failedPrecondition, message: "this server has no model loader")
        }
        let finished = self.finished
        let (socket, envelope, requestID, info) = (call.incoming.socket, call.incoming.envelope, call.requestID, call.info)
        loader.requestScan { statuses in
            let reply = ReloadModelsReply(models: statuses)
            finished.push([Reply.ok(socket: socket, envelope: envelope, requestID: requestID, body: reply.encode()).labelled(info)])
        }
        return .later
    }
}
