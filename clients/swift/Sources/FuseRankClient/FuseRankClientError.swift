#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuseRankTransport
import FuseRankWire

/// Why a FuseRank call failed.
///
/// Every case maps to a gRPC ``StatusCode`` (``code``), so callers can switch on one vocabulary
/// whether the server answered with an error or no answer came.
public enum FuseRankClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with a non-OK code (after retries, for retryable codes).
    /// - code: The reply header's code.
    /// - message: The reply header's message: what is wrong.
    /// - attempts: How many attempts were made.
    case status(code: StatusCode, message: String, attempts: Int)
    /// No reply came within the per-attempt timeout, on every attempt.
    /// - attempts: How many attempts were made.
    /// - timeoutMs: The per-attempt timeout in milliseconds.
    case timedOut(attempts: Int, timeoutMs: Int)
    /// The server's reply could not be decoded (a header matched, but its reply frame did not parse).
    /// - detail: What did not parse.
    case malformedReply(detail: String)
    /// The ZeroMQ socket failed (bad endpoint, too many open files, context terminated).
    case transport(ZMQError)
    /// The caller's task was cancelled.
    case cancelled
    /// The client was closed before or during the call.
    case closed

    /// The gRPC code for this failure: the server's code, `DEADLINE_EXCEEDED` for a timeout,
    /// `INVALID_ARGUMENT` for a malformed endpoint, `UNAVAILABLE` for another socket failure or a
    /// closed client, `CANCELLED`, `INTERNAL` for a reply that does not decode (as gRPC and the Python client).
    public var code: StatusCode {
        switch self {
        case .status(let code, _, _): code
        case .timedOut: .deadlineExceeded
        case .malformedReply: .internal
        case .transport(let error) where error.errno == EINVAL || error.errno == EPROTONOSUPPORT: .invalidArgument
        case .transport, .closed: .unavailable
        case .cancelled: .cancelled
        }
    }

    /// The human-readable part, without the code name.
    public var message: String {
        switch self {
        case .status(_, let message, let attempts):
            attempts > 1 ? "\(message) (after \(attempts) attempts)" : message
        case .timedOut(let attempts, let timeoutMs):
            "no reply within \(timeoutMs) ms (\(attempts) attempt\(attempts == 1 ? "" : "s"))"
        case .malformedReply(let detail): "malformed reply: \(detail)"
        case .transport(let error): error.description
        case .cancelled: "the call was cancelled"
        case .closed: "the client is closed"
        }
    }

    /// `CODE_NAME: message`, e.g. `INVALID_ARGUMENT: image 0 has 3 values, the model takes 64`.
    public var description: String { "\(code.name): \(message)" }
}
