import XCTest
import Lockstep
import LockstepServer
import LockstepTestSupport

/// The node over real HTTP on a loopback port: info, generation (whole and streamed), trace
/// download, opened states, and the refusals (a malformed or oversized body, an unknown trace).
final class NodeHTTPServerTests: XCTestCase {
    /// A flag set once by the server's listening callback.
    private final class Port: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int?
        func set(_ v: Int) { lock.lock(); value = v; lock.unlock() }
        func get() -> Int? { lock.lock(); defer { lock.unlock() }; return value }
    }

    /// The server's log lines.
    private final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    private struct NotListening: Error, CustomStringConvertible { var description: String { "the server did not start listening" } }

    /// Starts `server` on a free port.
    /// - Returns: the port, and the task serving (cancel it to stop the server).
    private func start(_ server: NodeHTTPServer) async throws -> (port: Int, running: Task<Void, any Error>) {
        let bound = Port()
        let running = Task { try await server.run(onListening: { bound.set($0) }) }
        for _ in 0 ..< 500 {
            if let p = bound.get() { return (p, running) }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        running.cancel()
        throw NotListening()
    }

    func testGenerateStreamDownloadAndRefusals() async throws {
        let node = try Fixture.node(NodeService.Limits(maxTokens: 64, maxBodyBytes: 4096))
        let logged = Lines()
        let (port, running) = try await start(NodeHTTPServer(service: node, port: 0) { logged.append($0) })
        defer { running.cancel() }

        let info = try HTTPTestClient.request(port: port, "GET", "/v1/info")
        XCTAssertEqual(info.status, 200)
        XCTAssertEqual(info.json["model_digest"] as? String, node.modelDigest.hex)
        XCTAssertEqual(info.json["public_key"] as? String, node.publicKey.hex)
        XCTAssertEqual(info.json["max_tokens_limit"] as? Int, 64)

        let whole = try HTTPTestClient.request(port: port, "POST", "/v1/generate", body: Array(#"{"prompt_tokens": [1, 5, 9], "max_tokens": 5}"#.utf8))
        XCTAssertEqual(whole.status, 200, String(decoding: whole.body, as: UTF8.self))
        XCTAssertEqual(whole.headers["content-type"], "application/json")
        let expected = try node.generate(GenerationRequest(prompt: .tokens([1, 5, 9]), maxTokens: 5))
        XCTAssertEqual(whole.json["tokens"] as? [Int], expected.tokens.map(Int.init))
        XCTAssertEqual(whole.json["trace_id"] as? String, expected.traceID)
        let commitment = try SignedCommitment(jsonObject: try XCTUnwrap(whole.json["commitment"] as? [String: Any]))
        XCTAssertEqual(commitment, expected.signed)

        // The trace, downloaded, is the node's file and replays.
        let url = try XCTUnwrap(whole.json["trace_url"] as? String)
        let download = try HTTPTestClient.request(port: port, "GET", url)
        XCTAssertEqual(download.status, 200)
        XCTAssertEqual(download.body, Array(try Data(contentsOf: URL(fileURLWithPath: node.tracePath(id: expected.traceID)))))
        let path = Fixture.dir.appendingPathComponent("downloaded-\(UUID().uuidString).trace").path
        try Data(download.body).write(to: URL(fileURLWithPath: path))
        let check = try Replay.verify(trace: try TraceReader.read(path: path, keepStates: false), model: Fixture.model,
                                      modelDigest: node.modelDigest, backend: ReferenceBackend())
        XCTAssertTrue(check.verdict.holds, check.verdict.reason)

        // The states of chosen steps, opened from the trace with states (recomputed on demand).
        let opened = try HTTPTestClient.request(port: port, "POST", url + "/states", body: Array(#"{"steps": [4, 0]}"#.utf8))
        XCTAssertEqual(opened.status, 200, String(decoding: opened.body, as: UTF8.self))
        XCTAssertEqual(opened.headers["content-type"], "application/octet-stream")
        let states = try TraceIndex(path: node.tracePath(id: expected.traceID + "-states"))
        XCTAssertTrue(opened.body == (try states.storedState(at: 4)) + (try states.storedState(at: 0)))

        // Streamed: a line per token as it is chosen, then the same result.
        let streamed = try HTTPTestClient.request(port: port, "POST", "/v1/generate",
                                                  body: Array(#"{"prompt_tokens": [1, 5, 9], "max_tokens": 5, "stream": true}"#.utf8))
        XCTAssertEqual(streamed.status, 200)
        XCTAssertEqual(streamed.headers["content-type"], "application/x-ndjson")
        let lines = streamed.jsonLines
        XCTAssertEqual(lines.count, expected.tokens.count + 1, String(decoding: streamed.body, as: UTF8.self))
        XCTAssertEqual(lines.dropLast().compactMap { $0["token"] as? Int }, expected.tokens.map(Int.init))
        XCTAssertEqual(lines.last?["trace_id"] as? String, expected.traceID)

        // Refusals: JSON errors with the status of their kind.
        let refusals: [(String, String, [UInt8], Int, String)] = [
            ("POST", "/v1/generate", Array(#"{"prompt": "a", "max_tokens": 65}"#.utf8), 400, "this node allows at most 64"),
            ("POST", "/v1/generate", Array(#"{"promt": "a"}"#.utf8), 400, "unknown field 'promt'"),
            ("POST", "/v1/generate", Array("not json".utf8), 400, "not JSON: Invalid value around character"),
            ("POST", "/v1/generate", Array(#"{"prompt": NaN}"#.utf8), 400, "not JSON: Invalid value around character"),
            ("POST", "/v1/generate", Array(#""a prompt""#.utf8), 400, "JSON but not an object"),
            ("POST", "/v1/generate", Array(#"{"prompt": "a"}"#.utf8) + [0], 400, "not UTF-8 JSON"),
            ("POST", "/v1/generate", Array(#"{"prompt": "a", "max_tokens": 1, "max_tokens": 65}"#.utf8), 400, "field 'max_tokens' is given twice"),
            ("POST", "/v1/generate", Array(#"{"prompt": 5, "\u0070rompt": "a"}"#.utf8), 400, "field 'prompt' is given twice"),
            ("POST", "/v1/generate", Array(#"{"prompt": "a", ""#.utf8) + [UInt8](repeating: 0x6B, count: 3000) + Array(#"": 1}"#.utf8), 400,
             "unknown field '" + String(repeating: "k", count: 80) + "…'"),
            ("POST", "/v1/generate", Array(#"{"prompt": ""#.utf8) + [UInt8](repeating: 0x61, count: 5000) + Array(#""}"#.utf8), 413,
             "larger than this node's 4096 bytes"),
            ("GET", "/v1/traces/" + String(repeating: "0", count: 64), [], 404, "no trace"),
            ("GET", "/v1/traces/..%2Ftiny.gguf", [], 404, "is not a trace id"),
            ("POST", url + "/states", Array(#"{"steps": [100000]}"#.utf8), 400, "entry 0 (100000) is not a step"),
            ("POST", url + "/states", Array(#"{"step": [1]}"#.utf8), 400, "unknown field 'step'"),
            ("POST", url + "/states", Array(#"{"steps": [0], "steps": [99999]}"#.utf8), 400, "field 'steps' is given twice"),
            ("POST", url + "/states", Array(#"{"steps": ["#.utf8) + [UInt8](repeating: 0x30, count: 5000) + Array("]}".utf8), 413,
             "larger than this node's 4096 bytes"),
            ("POST", "/v1/traces/" + String(repeating: "0", count: 64) + "/states", Array(#"{"steps": [1]}"#.utf8), 404, "no trace"),
        ]
        for (method, target, body, status, message) in refusals {
            let answer = try HTTPTestClient.request(port: port, method, target, body: body)
            XCTAssertEqual(answer.status, status, "\(method) \(target)")
            XCTAssertLessThan(answer.body.count, 1000, "an answer that echoes what it was sent")
            XCTAssertTrue((answer.json["error"] as? String ?? "").contains(message), "\(method) \(target): \(String(decoding: answer.body, as: UTF8.self))")
        }
        let unknown = try HTTPTestClient.request(port: port, "GET", "/v1/nothing")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.json["error"] as? String, "404 Not Found")
        // One log line per answer, in order: method, path, status, seconds.
        let log = logged.all
        XCTAssertEqual(log.count, 6 + refusals.count, "\(log)")
        XCTAssertTrue(log.first?.hasPrefix("GET /v1/info 200 ") == true, "\(log)")
        XCTAssertTrue(log.last?.hasPrefix("GET /v1/nothing 404 ") == true, "\(log)")
    }

    /// Bodies the node will not read to the end — declared larger than it accepts, too slow, past
    /// the bytes all bodies being read may hold at once, or with malformed chunked framing — get
    /// their answer and then the end of the stream, without the rest being read or waited for;
    /// the bytes they held are free again afterwards.
    func testBodiesRefusedBeforeTheirEndGetAnAnswerAndTheConnectionCloses() async throws {
        let node = try Fixture.node(NodeService.Limits(maxTokens: 8, maxBodyBytes: 4096, maxBodyBytesInFlight: 6000, bodyTimeout: .milliseconds(500)))
        let (port, running) = try await start(NodeHTTPServer(service: node, port: 0))
        defer { running.cancel() }
        func head(_ fields: String) -> [UInt8] { Array("POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n\(fields)\r\n".utf8) }
        func expectRefusal(_ connection: HTTPTestClient.Connection, _ status: Int, _ message: String, line: UInt = #line) throws {
            guard let answer = try connection.answer(timeout: 5) else { return XCTFail("no answer and end of stream within 5 s", line: line) }
            XCTAssertEqual(answer.status, status, line: line)
            XCTAssertEqual(answer.headers["connection"], "close", line: line)
            XCTAssertTrue((answer.json["error"] as? String ?? "").contains(message), String(decoding: answer.body, as: UTF8.self), line: line)
        }
        // Declared larger than the node accepts: answered with none of the body sent.
        let declared = try HTTPTestClient.Connection(port: port)
        declared.send(head("Content-Length: 10000000000\r\n"))
        try expectRefusal(declared, 413, "larger than this node's 4096 bytes")
        // Too slow: a part, a pause past the time allowed, another part.
        let slow = try HTTPTestClient.Connection(port: port)
        slow.send(head("Content-Length: 100\r\n") + Array(#"{"prompt": "#.utf8))
        try await Task.sleep(nanoseconds: 800_000_000)
        slow.send(Array(#""a"#.utf8))
        try expectRefusal(slow, 408, "did not arrive within")
        // One body holds 4000 of the 6000 bytes all bodies may hold: a second one's 3000 do not fit.
        let holding = try HTTPTestClient.Connection(port: port)
        holding.send(head("Content-Length: 4096\r\n") + [UInt8](repeating: 0x20, count: 4000))
        try await Task.sleep(nanoseconds: 300_000_000)
        let crowded = try HTTPTestClient.Connection(port: port)
        crowded.send(head("Content-Length: 3000\r\n") + [UInt8](repeating: 0x20, count: 3000))
        try expectRefusal(crowded, 503, "reading too many request bodies at once")
        // Malformed chunked framing.
        let chunked = try HTTPTestClient.Connection(port: port)
        chunked.send(head("Transfer-Encoding: chunked\r\n") + Array("zz\r\n{}\r\n0\r\n\r\n".utf8))
        try expectRefusal(chunked, 400, "framing is malformed")
        // Once the holding client goes, its bytes are free: the same body is read and answered.
        holding.shutDown()
        try await Task.sleep(nanoseconds: 300_000_000)
        let body = Array(#"{"prompt_tokens": [1, 5], "max_tokens": 2}"#.utf8) + [UInt8](repeating: 0x20, count: 3000)
        let after = try HTTPTestClient.request(port: port, "POST", "/v1/generate", body: body)
        XCTAssertEqual(after.status, 200, String(decoding: after.body, as: UTF8.self))
    }
}
