/// Where a ``RankServer`` is in its life; every transition is logged.
public enum LifecycleState: String, Sendable, Equatable {
    /// Loading models and binding; no request is answered yet.
    case starting
    /// Taking work.
    case serving
    /// Stopping: requests in flight finish, new Rank and GetModelInfo calls get UNAVAILABLE.
    case draining
    /// Every worker has finished and the sockets are closed.
    case stopped
}
