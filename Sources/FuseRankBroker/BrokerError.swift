import FuseRankTransport

/// Why a ``Broker`` cannot start.
public enum BrokerError: Error, Sendable, CustomStringConvertible {
    /// The configuration cannot run (see ``BrokerConfiguration/validationProblem()``).
    case badConfiguration(String)
    /// A CURVE key file (``BrokerConfiguration/curveSecretKeyPath``, an allowlist) cannot be used.
    case badKeys(CurveKeyError)
    /// A ZeroMQ call failed while binding or starting the thread.
    case transport(ZMQError)
    /// ``Broker/start()`` was called twice.
    case alreadyStarted

    public var description: String {
        switch self {
        case let .badConfiguration(problem): "bad configuration: \(problem)"
        case let .badKeys(error): "CURVE keys: \(error)"
        case let .transport(error): "transport: \(error)"
        case .alreadyStarted: "the broker was already started"
        }
    }
}
