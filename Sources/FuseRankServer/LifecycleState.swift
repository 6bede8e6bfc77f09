/// Where a ``RankServer`` is in its life; every transition is logged.
public enum LifecycleState: String, Sendable, Equatable {
    /// Loading models and binding: Health is answered, every other call gets UNAVAILABLE.
    case starting
    /// Taking work.
    case serving
    /// Stopping: requests in flight finish, every new call but Health gets UNAVAILABLE.
    case draining
    /// Every worker has finished and the sockets are closed.
    case stopped
}
