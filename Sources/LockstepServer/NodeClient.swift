import Foundation
import LockstepNative
import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of a node's HTTP interface (SPEC §9): what `lockstep-verify` uses to fetch a trace
/// from a live node, and what an app can use to ask one for a generation. Plain HTTP only.
///
/// Everything a node sends is treated as hostile: every answer is bounded in bytes (a trace is
/// written to a file as it arrives, never held whole), every exchange in time, and a malformed
/// answer is an error, not a crash.
public struct NodeClient: Sendable {
    /// The node's host name or address.
    public let host: String
    /// The node's TCP port.
    public let port: Int
    /// The longest one exchange may take, connecting included.
    public var timeout: TimeAmount

    /// - Parameter url: `http://HOST[:PORT]` (port 80 when left out), with nothing after it but
    ///   an optional `/`.
    /// - Throws: `NodeError.badRequest` for any other form.
    public init(url: String, timeout: TimeAmount = .seconds(120)) throws(NodeError) {
        guard url.hasPrefix("http://") else { throw NodeError(.badRequest, "'\(url.prefix(200))': a node's address is http://HOST[:PORT]") }
        var rest = Substring(url.dropFirst(7))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard (1 ... 2).contains(parts.count), !parts[0].isEmpty, !parts[0].contains("/"),
              let port = parts.count == 2 ? Int(parts[1]) : 80, (1 ... 65535).contains(port) else {
            throw NodeError(.badRequest, "'\(url.prefix(200))': a node's address is http://HOST[:PORT]")
        }
        self.init(host: String(parts[0]), port: port, timeout: timeout)
    }

    public init(host: String, port: Int, timeout: TimeAmount = .seconds(120)) {
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    /// `http://HOST:PORT`.
    public var url: String { "http://\(host):\(port)" }

    /// A resource's URL (`http://HOST[:PORT]/PATH`, such as a trace's `trace_url` on its node)
    /// split into a client of its node and the path to ask it for.
    /// - Throws: `NodeError.badRequest` for a URL of any other form.
    public static func resource(_ url: String, timeout: TimeAmount = .seconds(120)) throws(NodeError) -> (client: NodeClient, target: String) {
        let rest = url.hasPrefix("http://") ? url.dropFirst(7) : Substring("")
        guard let slash = rest.firstIndex(of: "/") else {
            throw NodeError(.badRequest, "'\(url.prefix(200))': a resource's address is http://HOST[:PORT]/PATH")
        }
        return (try NodeClient(url: "http://" + rest[..<slash], timeout: timeout), String(rest[slash...]))
    }

    /// `GET /v1/info`.
    public func info() async throws -> [String: Any] {
        try await jsonExchange(.GET, "/v1/info", body: nil)
    }

    /// `POST /v1/generate` with a request object (SPEC §9.2), not streamed; the result object.
    public func generate(_ request: [String: Any]) async throws -> [String: Any] {
        try await jsonExchange(.POST, "/v1/generate", body: try JSONSerialization.data(withJSONObject: request))
    }

    /// Downloads `GET /v1/traces/<id>` (or any path on the node) into a new file at `path`.
    /// - Parameter maxBytes: the largest answer accepted; a longer one is an error and its file
    ///   is removed.
    /// - Returns: the bytes written.
    /// - Throws: `NodeError.failed` naming the URL and the reason, the file removed: an exchange
    ///   that fails, a status other than 200, or a file that cannot be written (the disk full).
    public func download(_ target: String, to path: String, maxBytes: Int) async throws -> Int {
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw NodeError(.failed, "\(path): cannot be created")
        }
        defer { try? file.close() }
        do {
            var written = 0
            let fd = file.fileDescriptor, place = "\(url)\(target)"
            let status = try await exchange(.GET, target, body: nil, maxBytes: maxBytes) { piece in
                if let failed = piece.withUnsafeReadableBytes({ writeAll(fd, $0) }) {
                    throw NodeError(.failed, "\(place): the download cannot be written to \(path) after \(written + failed.written) bytes: \(failed.reason)")
                }
                written += piece.readableBytes
            }
            guard status == 200 else {
                throw NodeError(.failed, "\(url)\(target): status \(status)")
            }
            return written
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }

    /// `POST <trace>/states` (`trace`: a trace's path on the node, such as a result's `trace_url`)
    /// with `{"steps": steps}`: the stored states of those steps, one after another (SPEC §9.5).
    /// They are the node's word, not yet checked against any leaf.
    /// - Parameter expectedBytes: the answer's length, known from the trace's header; an answer of
    ///   any other length is an error (one over `max(expectedBytes, 64 KiB)` is cut off there).
    public func states(ofTrace trace: String, steps: [Int], expectedBytes: Int) async throws -> [UInt8] {
        let target = trace + "/states"
        var bytes: [UInt8] = []
        bytes.reserveCapacity(expectedBytes)
        let status = try await exchange(.POST, target, body: try JSONSerialization.data(withJSONObject: ["steps": steps]),
                                        maxBytes: answerBound(expectedBytes)) { bytes += $0.readableBytesView }
        guard status == 200 else { throw NodeError(.failed, "\(url)\(target): status \(status): \(Self.errorMessage(bytes))") }
        guard bytes.count == expectedBytes else {
            throw NodeError(.failed, "\(url)\(target): the node answered \(bytes.count) bytes for \(steps.count) states of \(expectedBytes) bytes")
        }
        return bytes
    }

    /// The most bytes read of an answer that should have `expected`: at least room for an error object.
    private func answerBound(_ expected: Int) -> Int { max(expected, 1 << 16) }

    /// The message of an `{"error": …}` answer, or a description of bytes that are not one.
    private static func errorMessage(_ bytes: [UInt8]) -> String {
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
        return (object?["error"] as? String).map { String($0.prefix(500)) } ?? "\(bytes.count) bytes that are not a JSON object"
    }

    /// A JSON exchange: the answer object, or the node's `{"error": …}` as a `NodeError.failed`.
    private func jsonExchange(_ method: HTTPMethod, _ target: String, body: Data?) async throws -> [String: Any] {
        var bytes: [UInt8] = []
        let status = try await exchange(method, target, body: body, maxBytes: 1 << 24) { bytes += $0.readableBytesView }
        guard status == 200, let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw NodeError(.failed, "\(url)\(target): status \(status): \(Self.errorMessage(bytes))")
        }
        return object
    }

    /// One request on a fresh connection (`Connection: close`); the answer's body goes to
    /// `sink` piece by piece. Returns the status. A watchdog closes the connection at `timeout`.
    private func exchange(_ method: HTTPMethod, _ target: String, body: Data?, maxBytes: Int,
                          sink: (ByteBuffer) throws -> Void) async throws -> Int {
        let place = "\(url)\(target)"
        do {
            return try await exchangeOnce(method, target, body: body, maxBytes: maxBytes, place: place, sink: sink)
        } catch let error as NodeError {
            throw error
        } catch let error as NIOConnectionError {
            throw NodeError(.failed, "\(place): cannot connect to \(host):\(port) (\(Self.reason(error)))")
        } catch ChannelError.connectTimeout {
            throw NodeError(.failed, "\(place): cannot connect to \(host):\(port) (no connection within \(timeout.nanoseconds / 1_000_000_000) s)")
        } catch let error as HTTPParserError {
            throw NodeError(.failed, "\(place): not an HTTP answer (\(error))")
        } catch let error as NIOHTTPDecoderError {
            throw NodeError(.failed, "\(place): not an HTTP answer (\(error))")
        } catch {
            throw NodeError(.failed, "\(place): \(error)")
        }
    }

    /// Why no connection was made, in the system's words ("Connection refused").
    private static func reason(_ error: NIOConnectionError) -> String {
        if error.connectionErrors.isEmpty, let dns = error.dnsAError ?? error.dnsAAAAError { return "the name does not resolve: \(dns)" }
        var reasons: [String] = []
        for failure in error.connectionErrors {
            let reason: String
            switch failure.error {
            case let io as IOError: reason = String(cString: strerror(io.errnoCode))
            case ChannelError.connectTimeout: reason = "no connection in time"
            case let other: reason = "\(other)"
            }
            if !reasons.contains(reason) { reasons.append(reason) }
        }
        return reasons.isEmpty ? "no address to connect to" : reasons.joined(separator: "; ")
    }

    private func exchangeOnce(_ method: HTTPMethod, _ target: String, body: Data?, maxBytes: Int, place: String,
                              sink: (ByteBuffer) throws -> Void) async throws -> Int {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        let expired = Flag(), connection = channel.channel, timeout = self.timeout
        let watchdog = Task {
            try await Task.sleep(nanoseconds: UInt64(timeout.nanoseconds))
            expired.set()
            connection.close(promise: nil)
        }
        defer { watchdog.cancel() }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
                head.headers.add(name: "Host", value: "\(host):\(port)")
                head.headers.add(name: "Connection", value: "close")
                head.headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
                if body != nil { head.headers.add(name: "Content-Type", value: "application/json") }
                // A node may answer and close before it has read the whole request (a refusal):
                // what it said is read all the same.
                var unsent: (any Error)?
                do {
                    try await outbound.write(.head(head))
                    if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                    try await outbound.write(.end(nil))
                } catch {
                    unsent = error
                }
                var status: Int?, received = 0
                for try await part in inbound {
                    switch part {
                    case let .head(h):
                        status = Int(h.status.code)
                    case let .body(piece):
                        received += piece.readableBytes
                        guard received <= maxBytes else { throw NodeError(.failed, "\(place): the answer is longer than \(maxBytes) bytes") }
                        try sink(piece)
                    case .end:
                        guard let status else { throw NodeError(.failed, "\(place): an answer without a status") }
                        return status
                    }
                }
                throw NodeError(.failed, unsent.map { "\(place): the connection closed before the request was sent (\($0))" }
                                    ?? "\(place): the connection closed before the answer ended")
            }
        } catch where expired.isSet {
            throw NodeError(.failed, "\(place): no complete answer within \(timeout.nanoseconds / 1_000_000_000) s")
        }
    }

    /// Set once, read from another task.
    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.lock(); value = true; lock.unlock() }
        var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    }
}
