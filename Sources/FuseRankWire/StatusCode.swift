/// A call's outcome: gRPC's status codes, with gRPC's names and numbers.
///
/// A reply header carries exactly one code; the reply frame is empty unless the code is ``ok``.
/// See `docs/wire.md` for what each code means to a caller.
public enum StatusCode: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// The call succeeded; the reply frame holds the reply message.
    case ok = 0
    /// The call was cancelled, typically by the caller.
    case cancelled = 1
    /// An error with no better code; also what an unrecognised code number decodes to.
    case unknown = 2
    /// The request is malformed or names something invalid; retrying it unchanged will fail again.
    case invalidArgument = 3
    /// The deadline passed before the server could finish (or start) the call.
    case deadlineExceeded = 4
    /// A named entity (for example a model) does not exist.
    case notFound = 5
    /// The entity a caller tried to create already exists.
    case alreadyExists = 6
    /// The caller may not do this.
    case permissionDenied = 7
    /// A limit was hit: message size, queue length.
    case resourceExhausted = 8
    /// The system is not in a state where the call can run.
    case failedPrecondition = 9
    /// The call was aborted, typically because of a concurrency conflict.
    case aborted = 10
    /// A value is outside its valid range.
    case outOfRange = 11
    /// The method is not implemented by this server.
    case unimplemented = 12
    /// A bug in the server: an invariant broke.
    case `internal` = 13
    /// The server cannot take the call now (starting, draining, overloaded); retry with backoff.
    case unavailable = 14
    /// Unrecoverable data loss or corruption.
    case dataLoss = 15
    /// The caller did not authenticate.
    case unauthenticated = 16

    /// The code for a number read off the wire; numbers outside 0...16 become ``unknown``, as in gRPC.
    /// - Parameter wireValue: the `Code` enum value of a `ReplyHeader`.
    public init(wireValue: Int32) {
        self = StatusCode(rawValue: wireValue) ?? .unknown
    }

    /// The code's gRPC name, e.g. `INVALID_ARGUMENT`.
    public var name: String {
        switch self {
        case .ok: return "OK"
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internal: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        }
    }

    public var description: String { name }
}
