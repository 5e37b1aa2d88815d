import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import LockstepTokenizer

/// The node's HTTP interface (SPEC §9) over a `NodeService`:
/// - `GET /v1/info`: the node's model digest, contract version, public key and limits;
/// - `POST /v1/generate`: a `GenerationRequest` body; the answer is `GenerationResult.jsonObject`,
///   or with `"stream": true` one JSON line per token (`{"token": id, "text": piece}`) and the
///   result as the last line;
/// - `GET /v1/traces/<id>`: a trace file this node wrote, for `lockstep-verify` (`<id>-states`,
///   the trace with every step's state, is recomputed on demand when the node has only `<id>`);
/// - `POST /v1/traces/<id>/states`: `{"steps": [i, …]}`; the stored states of those steps, one
///   after another (`StateOpenings`), for a spot-check that fetches only what it opens.
///
/// Errors answer `{"error": message}` with the status of `NodeError.httpStatus`. A body is read
/// within `Limits.bodyTimeout` (else 408) and counted against `Limits.maxBodyBytesInFlight`
/// over all connections (else 503); a body over `Limits.maxBodyBytes` gets 413 — before any of
/// it is read when its Content-Length says so — and a body with malformed chunked framing 400.
/// Each of these answers says `Connection: close`, and the node closes the connection after it,
/// so the rest of the body is never read.
public struct NodeHTTPServer: Sendable {
    /// The node it serves.
    public let service: NodeService
    /// The address it listens on.
    public let host: String
    /// The TCP port; 0 asks the system for a free one (`run` reports which).
    public let port: Int
    /// Called with one line per answered request: method, path, status and seconds taken until
    /// the answer began (a streamed answer goes on after it).
    public let log: (@Sendable (_ line: String) -> Void)?
    /// The bytes the bodies being read hold now, against `Limits.maxBodyBytesInFlight`.
    private let bodyBudget: BodyBudget

    public init(service: NodeService, host: String = "127.0.0.1", port: Int = 8080, log: (@Sendable (_ line: String) -> Void)? = nil) {
        self.service = service
        self.host = host
        self.port = port
        self.log = log
        bodyBudget = BodyBudget(bytes: service.limits.maxBodyBytesInFlight)
    }

    /// Serves until the task is cancelled or the process gets SIGINT or SIGTERM.
    /// - Parameter onListening: called once the socket listens, with its port.
    /// - Throws: when the address cannot be bound.
    public func run(onListening: @escaping @Sendable (_ port: Int) -> Void = { _ in }) async throws {
        var logger = Logger(label: "lockstep-node")
        logger.logLevel = .warning
        // A connection with no request in progress is closed after 30 s, so idle clients cannot hold
        // sockets; one whose client stops reading its answer, after 30 s unwritable.
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [CloseAfterRefusal(), CloseStalledConnection()],
                                               idleTimeout: .seconds(30))
        let app = Application(router: router(), server: .http1(configuration: http1),
                              configuration: .init(address: .hostname(host, port: port), serverName: "lockstep"),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await app.runService()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: Answers(log: log))   // first, so that it also renders the router's own 404
        let service = self.service, budget = bodyBudget
        router.get("/v1/info") { _, _ in Self.json(service.info) }
        router.post("/v1/generate") { request, _ in
            let body = try await Self.body(of: request, limits: service.limits, budget: budget)
            let job = try service.admit(try GenerationRequest(json: Array(buffer: body)))
            return job.request.stream ? Self.streaming(job, on: service) : Self.json(try await Self.generate(job, on: service).jsonObject)
        }
        router.get("/v1/traces/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            return try Self.file(try await Self.offThread { () throws(NodeError) in try service.tracePath(id: id) })
        }
        router.post("/v1/traces/:id/states") { request, context in
            let id = context.parameters.get("id") ?? ""
            let steps = try StateOpenings.steps(json: Array(buffer: try await Self.body(of: request, limits: service.limits, budget: budget)))
            return Self.states(try await Self.offThread { () throws(NodeError) in try service.stateOpenings(id: id, steps: steps) })
        }
        return router
    }

    /// Renders every error as `{"error": message}` — a `NodeError` with its status, the router's
    /// own errors (no such route) with theirs, anything else as 500 — and logs each answer.
    private struct Answers: RouterMiddleware {
        let log: (@Sendable (String) -> Void)?

        func handle(_ request: Request, context: BasicRequestContext,
                    next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
            let started = Date()
            let response: Response
            do { response = try await next(request, context) } catch let error as NodeError {
                response = NodeHTTPServer.json(["error": error.description], status: .init(code: error.httpStatus),
                                               closing: error.closesConnection)
            } catch let error as HTTPError {
                response = NodeHTTPServer.json(["error": error.body ?? "\(error.status.code) \(error.status.reasonPhrase)"], status: error.status)
            } catch {
                response = NodeHTTPServer.json(["error": "\(error)"], status: .internalServerError)
            }
            log?(String(format: "%@ %@ %d %.3f s", request.method.rawValue, String(request.uri.path.prefix(200)),
                        response.status.code, Date().timeIntervalSince(started)))
            return response
        }
    }

    /// A request's whole body, read within `limits.bodyTimeout` and counted against `budget`
    /// while it is read.
    /// - Throws: `NodeError`, each closing the connection: `.tooLarge` for a body over
    ///   `limits.maxBodyBytes` (unread when its Content-Length says so), `.timeout` for one that
    ///   has not arrived in time, `.busy` when it would pass `budget`, `.badRequest` for
    ///   malformed chunked framing.
    private static func body(of request: Request, limits: NodeService.Limits, budget: BodyBudget) async throws(NodeError) -> ByteBuffer {
        let limit = limits.maxBodyBytes
        let tooLarge = NodeError(.tooLarge, "the request body is larger than this node's \(limit) bytes", closesConnection: true)
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit { throw tooLarge }
        let deadline = ContinuousClock.now + limits.bodyTimeout
        var body = ByteBuffer()
        defer { budget.release(body.readableBytes) }   // every byte in `body` was taken from `budget`
        do {
            for try await var part in request.body {
                guard body.readableBytes + part.readableBytes <= limit else { throw tooLarge }
                guard budget.take(part.readableBytes) else {
                    throw NodeError(.busy, "the node is reading too many request bodies at once; try again", closesConnection: true)
                }
                body.writeBuffer(&part)
                guard ContinuousClock.now < deadline else {
                    throw NodeError(.timeout, "the request body did not arrive within \(limits.bodyTimeout)", closesConnection: true)
                }
            }
        } catch let error as NodeError {
            throw error
        } catch let error as HTTPParserError {
            throw NodeError(.badRequest, "the request body's framing is malformed (\(error))", closesConnection: true)
        } catch {
            throw NodeError(.badRequest, "the request body cannot be read (\(error))", closesConnection: true)
        }
        return body
    }

    /// Runs blocking engine work (a generation, a replay) on a thread of its own, off the server's.
    private static func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    private static func generate(_ job: NodeService.Job, on service: NodeService,
                                 onToken: @escaping @Sendable (TokenID, String) -> Bool = { _, _ in true }) async throws -> GenerationResult {
        try await offThread { try service.run(job, onToken: onToken) }
    }

    /// One JSON line per token as it is chosen, then the result (or `{"error": …}`) as the last line.
    /// When the client goes away, the generation stops after the token being chosen (stop reason
    /// `caller`; its trace is kept, complete and signed).
    private static func streaming(_ job: NodeService.Job, on service: NodeService) -> Response {
        let (lines, sink) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
        let gone = ClientGone()
        let body = ResponseBody { writer in
            let generation = Task {
                defer { sink.finish() }
                do {
                    let result = try await generate(job, on: service) { id, text in
                        sink.yield(jsonLine(["token": Int(id), "text": text]))
                        return !gone.isSet
                    }
                    sink.yield(jsonLine(result.jsonObject))
                } catch {
                    sink.yield(jsonLine(["error": "\(error)"]))
                }
            }
            do {
                for await line in lines { try await writer.write(ByteBuffer(bytes: line)) }
            } catch {
                gone.set()
                throw error
            }
            await generation.value
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: body)
    }

    /// Set when a streamed answer can no longer be written.
    private final class ClientGone: @unchecked Sendable {   // `gone` only under `lock`
        private let lock = NSLock()
        private var gone = false
        func set() { lock.withLock { gone = true } }
        var isSet: Bool { lock.withLock { gone } }
    }

    private static func jsonLine(_ object: [String: Any]) -> [UInt8] {
        // Every value the node puts in a JSON object is a JSON value, so serialisation cannot fail.
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { Array($0) + [0x0A] } ?? Array("{}\n".utf8)
    }

    fileprivate static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok, closing: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if closing { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: jsonLine(object))))
    }

    /// The opened states one after another, read from the trace file as they are written.
    private static func states(_ openings: StateOpenings) -> Response {
        let body = ResponseBody(contentLength: openings.byteCount) { writer in
            for k in openings.steps.indices { try await writer.write(ByteBuffer(bytes: try openings.state(k))) }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
    }

    /// A trace file in 1 MiB pieces.
    private static func file(_ path: String) throws -> Response {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw NodeError(.failed, "the trace cannot be read") }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        let body = ResponseBody(contentLength: size) { writer in
            defer { try? handle.close() }
            while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {
                try await writer.write(ByteBuffer(bytes: piece))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
    }
}
