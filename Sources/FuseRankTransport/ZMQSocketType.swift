import CZeroMQ

/// The libzmq socket patterns this project uses.
public enum ZMQSocketType: Sendable, Equatable {
    case pair, publisher, subscriber, request, reply, dealer, router, pull, push

    /// The `ZMQ_*` constant.
    var rawValue: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .publisher: ZMQ_PUB
        case .subscriber: ZMQ_SUB
        case .request: ZMQ_REQ
        case .reply: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        }
    }
}
