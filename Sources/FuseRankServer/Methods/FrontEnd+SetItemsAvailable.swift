import FuseRankWire

extension FrontEnd {
    /// `SetItemsAvailable`' run stage (admin): hides items or shows them again, on the loader
    /// thread (journalled and `fsync`'d, then applied, all or nothing); the reply comes back
    /// through ``ReplyQueue``.
    /// - Parameters:
    ///   - request: the decoded request.
    ///   - call: the call, for its socket, envelope and id.
    func setItemsAvailable(_ request: SetItemsAvailableRequest, call: MethodCall) throws -> MethodOutcome {
        try changeCatalogue(call: call) { live in
            try live.setAvailable(request, model: try self.servedModel(named: request.model)).encode()
        }
    }
}
