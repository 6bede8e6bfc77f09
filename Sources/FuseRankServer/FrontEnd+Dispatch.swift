import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// Answers or queues one call; every call gets exactly one reply, here or from a worker.
    /// - Parameter call: the received message.
    /// - Returns: true when a Rank job was queued (its reply comes from a worker).
    func handle(_ call: IncomingCall) -> Bool {
        let received = ContinuousClock.now
        var requestID: UInt64 = 0
        do {
            let content = call.content
            guard content.count == Framing.framesPerCall else {
                requestID = content.first.flatMap { try? RequestHeader(bytes: $0) }?.requestID ?? 0
                throw RequestError.invalidArgument(
                    "expected \(Framing.framesPerCall) frames after the envelope, [RequestHeader][request], got \(content.count)")
            }
            let size = call.contentBytes
            if size > configuration.maxMessageBytes {
                if content[0].count <= configuration.maxMessageBytes {
                    requestID = (try? RequestHeader(bytes: content[0]))?.requestID ?? 0
                }
                throw RequestError(
                    code: .resourceExhausted,
                    message: "the request is \(size) bytes, the server's limit is \(configuration.maxMessageBytes)")
            }
            let header: RequestHeader
            do {
                header = try RequestHeader(bytes: content[0])
            } catch {
                throw RequestError.invalidArgument("cannot decode the RequestHeader frame: \(error)")
            }
            requestID = header.requestID
            guard let method = Method(path: header.method) else {
                throw RequestError(
                    code: .unimplemented,
                    message: "unknown method \"\(header.method)\"; this server implements "
                        + Method.allCases.map(\.path).joined(separator: ", "))
            }
            switch method {
            case .health:
                _ = try decode(HealthRequest.self, content[1])
                let state = control.state
                let health = HealthReply(ready: state == .serving, state: state.rawValue, models: models.names)
                reply(call, requestID, body: health.encode())
                return false
            case .getModelInfo:
                try refuseWhileDraining()
                let request = try decode(ModelInfoRequest.self, content[1])
                guard let bundle = models.bundle(named: request.model) else {
                    throw RequestError(code: .notFound, message: models.notFoundMessage(request.model))
                }
                reply(call, requestID, body: models.info(bundle).encode())
                return false
            case .rank:
                try refuseWhileDraining()
                let request = try decode(RankRequest.self, content[1])
                guard let bundle = models.bundle(named: request.model) else {
                    throw RequestError(code: .notFound, message: models.notFoundMessage(request.model))
                }
                let query: RankQuery
                do {
                    query = try request.rankQuery(for: bundle, defaultCatalogueTopK: configuration.defaultCatalogueTopK)
                } catch let error as InputError {
                    throw RequestError.invalidArgument(error.description)
                }
                let timeoutMs = header.timeoutMs == 0 ? configuration.defaultTimeoutMs : header.timeoutMs
                let job = RankJob(
                    envelope: call.envelope, requestID: requestID, bundle: bundle, query: query,
                    deadline: received + .milliseconds(Int64(timeoutMs)))
                guard queue.push(job) else {
                    throw RequestError(
                        code: .unavailable,
                        message: "the server is overloaded: \(queue.capacity) requests are already queued; retry with backoff")
                }
                return true
            }
        } catch let error as RequestError {
            stats.record(error.code)
            logger.debug("request \(requestID): \(error.code.name): \(error.message)")
            send(Reply.error(envelope: call.envelope, requestID: requestID, code: error.code, message: error.message))
            return false
        } catch {
            stats.record(.internal)
            logger.error("request \(requestID): unexpected error \(error)")
            send(Reply.error(envelope: call.envelope, requestID: requestID, code: .internal, message: "\(error)"))
            return false
        }
    }

    /// Sends an OK reply from the front thread.
    private func reply(_ call: IncomingCall, _ requestID: UInt64, body: [UInt8]) {
        stats.record(.ok)
        send(Reply.ok(envelope: call.envelope, requestID: requestID, body: body))
    }

    /// UNAVAILABLE while draining: the server takes no new work.
    private func refuseWhileDraining() throws {
        if control.state != .serving {
            throw RequestError(code: .unavailable, message: "the server is \(control.state.rawValue) and takes no new requests")
        }
    }

    /// Decodes the request frame, or throws INVALID_ARGUMENT.
    private func decode<M: WireMessage>(_ type: M.Type, _ bytes: [UInt8]) throws -> M {
        do {
            return try M(bytes: bytes)
        } catch {
            throw RequestError.invalidArgument("cannot decode the request frame: \(error)")
        }
    }
}
