/// Who may call the admin methods (`UpsertItems`, `SetItemsAvailable`): docs/operations.md
/// "Admin access".
package enum AdminAccess: Sendable, Equatable {
    /// CURVE on: only callers whose public key (the ZAP user id) is in the set (`--admin-allow`).
    case keys(Set<String>)
    /// No CURVE, `--admin-insecure`: every caller.
    case insecure
    /// Nobody (no CURVE and no `--admin-insecure`, or CURVE without `--admin-allow`).
    case refused

    /// PERMISSION_DENIED unless the caller may change the catalogue.
    /// - Parameter userID: the caller's CURVE public key (Z85), nil without CURVE.
    func check(_ userID: String?, method: String) throws {
        switch self {
        case .insecure:
            return
        case let .keys(allowed):
            if let userID, allowed.contains(userID) { return }
            throw RequestError(code: .permissionDenied,
                               message: "\(method) is an admin method: this client's key is not on the --admin-allow list")
        case .refused:
            throw RequestError(code: .permissionDenied,
                               message: "\(method) is an admin method: this server takes admin calls only with CURVE and --admin-allow, or with --admin-insecure")
        }
    }
}
