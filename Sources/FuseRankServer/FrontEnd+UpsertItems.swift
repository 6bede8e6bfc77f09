import FuseRankWire

extension FrontEnd {
    /// `UpsertItems` (admin): the change is made on the loader thread (journalled and `fsync`'d,
    /// then applied) and its reply comes back through ``ReplyQueue``. PERMISSION_DENIED for a
    /// caller ``admin`` refuses; UNAVAILABLE while starting or draining.
    /// - Parameters:
    ///   - body: the request frame.
    ///   - call: the call, for its envelope and caller key.
    ///   - requestID: its id.
    ///   - info: the call's metric labels (the model is set once found).
    func upsertItems(_ body: [UInt8], call: IncomingCall, requestID: UInt64, info: inout CallInfo) throws {
        try admin.check(call.userID, method: "UpsertItems")
        try refuseWhileDraining()
        let request = try UpsertItemsRequest(bytes: body)
        info.model = try servedModel(named: request.model).name
        try changeCatalogue(call: call, requestID: requestID, info: info) { live in
            // The version served now, looked up on the loader thread: no reload runs meanwhile.
            try live.upsert(request, model: try self.servedModel(named: request.model)).encode()
        }
    }

    /// Runs a catalogue change on the loader thread and queues its reply (OK or the error).
    func changeCatalogue(call: IncomingCall, requestID: UInt64, info: CallInfo,
                         _ change: @escaping @Sendable (LiveCatalogues) throws -> [UInt8]) throws {
        guard let loader else {
            throw RequestError(code: .failedPrecondition, message: "this server has no model loader")
        }
        let finished = self.finished
        let (socket, envelope) = (call.socket, call.envelope)
        let logger = self.logger
        let accepted = loader.changeCatalogue { live in
            let reply: Reply
            do {
                let body = try change(live)
                reply = Reply.ok(socket: socket, envelope: envelope, requestID: requestID, body: body).labelled(info)
            } catch {
                reply = Reply.failure(socket: socket, envelope: envelope, requestID: requestID, error: error).labelled(info)
                if reply.code == .internal { logger.error("request \(requestID): catalogue change failed, nothing changed: \(error)") }
            }
            finished.push([reply])
        }
        guard accepted else {
            throw RequestError(code: .unavailable, message: "the server is draining and takes no catalogue changes")
        }
    }
}
