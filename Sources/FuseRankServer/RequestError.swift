import FuseRankWire

/// A request the server answers with an error status instead of doing its work.
struct RequestError: Error, Sendable {
    /// The status sent back.
    let code: StatusCode
    /// What is wrong, for `ReplyHeader.message`.
    let message: String

    /// INVALID_ARGUMENT with `message`.
    static func invalidArgument(_ message: String) -> RequestError {
        RequestError(code: .invalidArgument, message: message)
    }
}
