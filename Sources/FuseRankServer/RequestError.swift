import FuseRankModel
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

    /// The one map from any error met while serving a request to its reply status and message.
    ///
    /// ``RequestError`` carries its own; the model's ``InputError`` and ``ForecastInputError`` and
    /// an undecodable request frame (`WireError`) are INVALID_ARGUMENT; anything else is INTERNAL.
    static func status(of error: any Error) -> (code: StatusCode, message: String) {
        switch error {
        case let error as RequestError: return (error.code, error.message)
        case let error as InputError: return (.invalidArgument, error.description)
        case let error as ForecastInputError: return (.invalidArgument, error.description)
        case let error as WireError: return (.invalidArgument, "cannot decode the request frame: \(error)")
        default: return (.internal, "\(error)")
        }
    }
}
