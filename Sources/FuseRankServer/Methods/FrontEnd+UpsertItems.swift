import FuseRankWire

extension FrontEnd {
    /// `UpsertItems`' run stage (admin): the change is made on the loader thread (journalled and
    /// `fsync`'d, then applied) and its reply comes back through ``ReplyQueue``.
    /// - Parameters:
    ///   - request: the decoded request.
    ///   - call: the call, for its socket, envelope and id.
    func upsertItems(_ request: UpsertItemsRequest, call: MethodCall) throws -> MethodOutcome {
        try changeCatalogue(call: call) { live in
            // The version served now, looked up on the loader thread: no reload runs meanwhile.
            try live.upsert(request, model: try self.servedModel(named: request.model)).encode()
        }
    }

    /// Runs a catalogue change on the loader thread and queues its reply (OK or the error).
    func changeCatalogue(call: MethodCall, _ change: @escaping @Sendable (LiveCatalogues) throws -> [UInt8]) throws -> MethodOutcome {
        guard let loader else {
            throw RequestError(code: .failedPrecondition, message: "this server has no model loader")
        }
        let finished = self.finished
        let (socket, envelope, requestID, info) = (call.incoming.socket, call.incoming.envelope, call.requestID, call.info)
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
        return .later
    }
}
