import Foundation
import Hummingbird
import Logging
import NIOCore
import LockstepTokenizer

/// The node's HTTP interface (SPEC §9) over a `NodeService`:
/// - `GET /v1/info`: the node's model digest, contract version, public key and limits;
/// - `POST /v1/generate`: a `GenerationRequest` body; the answer is `GenerationResult.jsonObject`,
///   or with `"stream": true` one JSON line per token (`{"token": id, "text": piece}`) and the
///   result as the last line;
/// - `GET /v1/traces/<id>`: a trace file this node wrote, for `lockstep-verify`.
///
/// Errors answer `{"error": message}` with the status of `NodeError.httpStatus`; a body over
/// `Limits.maxBodyBytes` gets 413 without being read further.
public struct NodeHTTPServer: Sendable {
    public let service: NodeService
    public let host: String
    /// The TCP port; 0 asks the system for a free one (`run` reports which).
    public let port: Int

    public init(service: NodeService, host: String = "127.0.0.1", port: Int = 8080) {
        self.service = service
        self.host = host
        self.port = port
    }

    /// Serves until the task is cancelled or the process gets SIGINT or SIGTERM.
    /// - Parameter onListening: called once the socket listens, with its port.
    /// - Throws: when the address cannot be bound.
    public func run(onListening: @escaping @Sendable (_ port: Int) -> Void = { _ in }) async throws {
        var logger = Logger(label: "lockstep-node")
        logger.logLevel = .warning
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "lockstep"),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await app.runService()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let service = self.service
        router.get("/v1/info") { _, _ in Self.json(service.info) }
        router.post("/v1/generate") { request, _ in
            await Self.answering { () async throws -> Response in
                let body: ByteBuffer
                do { body = try await request.body.collect(upTo: service.limits.maxBodyBytes) } catch is NIOTooManyBytesError {
                    throw NodeError(.tooLarge, "the request body is larger than this node's \(service.limits.maxBodyBytes) bytes")
                }
                let job = try service.admit(try GenerationRequest(json: Array(buffer: body)))
                return job.request.stream ? Self.streaming(job, on: service) : Self.json(try await Self.generate(job, on: service).jsonObject)
            }
        }
        router.get("/v1/traces/:id") { _, context in
            await Self.answering { () throws -> Response in
                let path = try service.tracePath(id: context.parameters.get("id") ?? "")
                return try Self.file(path)
            }
        }
        return router
    }

    /// Runs a job off the server's threads (generation blocks).
    private static func generate(_ job: NodeService.Job, on service: NodeService,
                                 onToken: @escaping @Sendable (TokenID, String) -> Void = { _, _ in }) async throws -> GenerationResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do { continuation.resume(returning: try service.run(job, onToken: onToken)) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// One JSON line per token as it is chosen, then the result (or `{"error": …}`) as the last line.
    private static func streaming(_ job: NodeService.Job, on service: NodeService) -> Response {
        let (lines, sink) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
        let body = ResponseBody { writer in
            let generation = Task {
                defer { sink.finish() }
                do {
                    let result = try await generate(job, on: service) { id, text in sink.yield(jsonLine(["token": Int(id), "text": text])) }
                    sink.yield(jsonLine(result.jsonObject))
                } catch {
                    sink.yield(jsonLine(["error": "\(error)"]))
                }
            }
            for await line in lines { try await writer.write(ByteBuffer(bytes: line)) }
            await generation.value
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: body)
    }

    /// The answer of `body`, or its error as `{"error": …}` with the error's status.
    private static func answering(_ body: () async throws -> Response) async -> Response {
        do { return try await body() } catch let error as NodeError {
            return json(["error": error.description], status: .init(code: error.httpStatus))
        } catch {
            return json(["error": "\(error)"], status: .internalServerError)
        }
    }

    private static func jsonLine(_ object: [String: Any]) -> [UInt8] {
        // Every value the node puts in a JSON object is a JSON value, so serialisation cannot fail.
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { Array($0) + [0x0A] } ?? Array("{}\n".utf8)
    }

    private static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: jsonLine(object))))
    }

    /// A trace file in 1 MiB pieces.
    private static func file(_ path: String) throws -> Response {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw NodeError(.failed, "trace \(path) cannot be opened") }
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
