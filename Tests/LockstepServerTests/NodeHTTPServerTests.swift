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

    func testGenerateStreamDownloadAndRefusals() async throws {
        let node = try Fixture.node(NodeService.Limits(maxTokens: 64, maxBodyBytes: 4096))
        let logged = Lines()
        let server = NodeHTTPServer(service: node, port: 0) { logged.append($0) }
        let bound = Port()
        let running = Task { try await server.run(onListening: { bound.set($0) }) }
        defer { running.cancel() }
        var port = 0
        for _ in 0 ..< 500 {
            if let p = bound.get() { port = p; break }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTAssertGreaterThan(port, 0, "the server did not start listening")

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
            ("POST", "/v1/generate", Array("not json".utf8), 400, "not JSON"),
            ("POST", "/v1/generate", Array(#"{"prompt": ""#.utf8) + [UInt8](repeating: 0x61, count: 5000) + Array(#""}"#.utf8), 413,
             "larger than this node's 4096 bytes"),
            ("GET", "/v1/traces/" + String(repeating: "0", count: 64), [], 404, "no trace"),
            ("GET", "/v1/traces/..%2Ftiny.gguf", [], 404, "is not a trace id"),
            ("POST", url + "/states", Array(#"{"steps": [100000]}"#.utf8), 400, "entry 0 (100000) is not a step"),
            ("POST", url + "/states", Array(#"{"step": [1]}"#.utf8), 400, "unknown field 'step'"),
            ("POST", url + "/states", Array(#"{"steps": ["#.utf8) + [UInt8](repeating: 0x30, count: 5000) + Array("]}".utf8), 413,
             "larger than this node's 4096 bytes"),
            ("POST", "/v1/traces/" + String(repeating: "0", count: 64) + "/states", Array(#"{"steps": [1]}"#.utf8), 404, "no trace"),
        ]
        for (method, target, body, status, message) in refusals {
            let answer = try HTTPTestClient.request(port: port, method, target, body: body)
            XCTAssertEqual(answer.status, status, "\(method) \(target)")
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
}
