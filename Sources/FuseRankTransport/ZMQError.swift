#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZeroMQ

/// A failed libzmq call: the operation, `zmq_errno()` and `zmq_strerror` text.
///
/// Every libzmq call that can fail goes through ``zmqCall(_:_:)`` (or one of the few wrappers in
/// this module that need a different retry rule), which turns a `-1`/`NULL` return into this error.
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The libzmq function (and argument, where useful) that failed, e.g. `zmq_bind(tcp://…)`.
    public let operation: String
    /// The errno value libzmq reported (`zmq_errno()`); POSIX codes or libzmq's own (`ETERM`, `EFSM`).
    public let errno: Int32
    /// `zmq_strerror(errno)`.
    public let message: String

    /// Makes an error from an explicit errno.
    /// - Parameters:
    ///   - operation: The call that failed.
    ///   - errno: The errno value.
    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
        self.message = String(cString: zmq_strerror(errno))
    }

    /// Makes an error from the calling thread's current `zmq_errno()`.
    /// - Parameter operation: The call that failed.
    /// - Returns: The error.
    public static func current(_ operation: String) -> ZMQError {
        ZMQError(operation: operation, errno: zmq_errno())
    }

    /// `EAGAIN`: a non-blocking call would block, or a send/receive timeout expired.
    public var isAgain: Bool { errno == EAGAIN }
    /// `EINTR`: a signal interrupted the call.
    public var isInterrupted: Bool { errno == EINTR }
    /// `ETERM`: the context is being terminated; close the socket.
    public var isTerminated: Bool { errno == ZMQError.eterm }
    /// `EHOSTUNREACH`: a ROUTER with `routerMandatory` has no peer with that routing id.
    public var isHostUnreachable: Bool { errno == EHOSTUNREACH }

    /// libzmq's `ETERM` (`ZMQ_HAUSNUMERO + 53`).
    public static let eterm: Int32 = ZMQ_HAUSNUMERO + 53
    /// libzmq's `EFSM` (`ZMQ_HAUSNUMERO + 51`): the operation is not valid in the socket's state.
    public static let efsm: Int32 = ZMQ_HAUSNUMERO + 51

    public var description: String { "\(operation) failed: \(message) (errno \(errno))" }
}

/// Runs a libzmq call that returns `-1` on failure, retrying while it fails with `EINTR`.
///
/// - Parameters:
///   - operation: Name for the error, e.g. `"zmq_bind(tcp://127.0.0.1:5555)"`.
///   - body: The call; returns its `int` result.
/// - Returns: The call's non-negative result.
/// - Throws: ``ZMQError`` for any failure other than `EINTR`.
@inline(__always)
@discardableResult
func zmqCall(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let code = zmq_errno()
        if code == EINTR { continue }
        throw ZMQError(operation: operation(), errno: code)
    }
}
