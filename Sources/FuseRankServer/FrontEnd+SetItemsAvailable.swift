import FuseRankWire

extension FrontEnd {
    /// `SetItemsAvailable` (admin): hides items or shows them again, on the loader thread
    /// (journalled and `fsync`'d, then applied, all or nothing); the reply comes back through
    /// ``ReplyQueue``. PERMISSION_DENIED for a caller ``admin`` refuses.
    /// - Parameters:
    ///   - body: the request frame.
    ///   - call: the call, for its envelope and caller key.
    ///   - requestID: its id.
    ///   - info: the call's metric labels (the model is set once found).
    func setItemsAvailable(_ body: [UInt8], call: IncomingCall, requestID: UInt64, info: inout CallInfo) throws {
        try admin.check(call.userID, method: "SetItemsAvailable")
        try refuseWhileDraining()
        let request = try SetItemsAvailableRequest(bytes: body)
        info.model = try servedModel(named: request.model).name
        try changeCatalogue(call: call, requestID: requestID, info: info) { live in
            try live.setAvailable(request, model: try self.servedModel(named: request.model)).encode()
        }
    }
}
