import FuseRankModel
import FuseRankTransport

/// Why a ``RankServer`` cannot start.
public enum ServerError: Error, Sendable, CustomStringConvertible {
    /// The configuration cannot run (see ``ServerConfiguration/validationProblem()``).
    case badConfiguration(String)
    /// A model bundle did not load.
    case modelLoad(path: String, reason: String)
    /// Two bundles carry the same model name (config.json `name`).
    case duplicateModelName(name: String, paths: [String])
    /// A ZeroMQ call failed while binding or starting the threads.
    case transport(ZMQError)
    /// ``RankServer/start()`` was called twice.
    case alreadyStarted
    /// A CURVE key file (`--curve-secret-key`, `--curve-allow`) cannot be used.
    case badKeys(String)

    public var description: String {
        switch self {
        case let .badConfiguration(problem):
            return "bad configuration: \(problem)"
        case let .modelLoad(path, reason):
            return "cannot load the model bundle \(path): \(reason)"
        case let .duplicateModelName(name, paths):
            return "the bundles \(paths.joined(separator: " and ")) are both named \"\(name)\"; model names must be unique"
        case let .transport(error):
            return "transport: \(error)"
        case .alreadyStarted:
            return "the server was already started"
        case let .badKeys(reason):
            return "CURVE keys: \(reason)"
        }
    }
}
