import Foundation
import XCTest
import Lockstep
import LockstepTestSupport

/// `lockstep serve` as an operator runs it: it says where it listens, answers, logs each answer,
/// keeps the trace, and stops cleanly on Ctrl-C; bad options fail before it listens.
final class ServeCommandTests: XCTestCase {
    func testServesLogsAndStopsOnInterrupt() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny.gguf").path
        XCTAssertEqual(try CLIRunner.run(["tiny-model", "--out", model]).status, 0)
        let binary = BuiltProduct.directory.appendingPathComponent("lockstep")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("lockstep not built") }
        let errURL = dir.appendingPathComponent("stderr")
        XCTAssertTrue(FileManager.default.createFile(atPath: errURL.path, contents: nil))
        let err = try FileHandle(forWritingTo: errURL)
        defer { try? err.close() }
        let traces = dir.appendingPathComponent("traces").path
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--model", model, "--port", "0", "--trace-dir", traces]
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The listening line names the port (0 asked for any free one).
        var port: Int?
        for _ in 0 ..< 1000 where port == nil {
            let text = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
            if let range = text.range(of: #"on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)
            }
            if port == nil { usleep(10_000) }
        }
        let p = try XCTUnwrap(port, "no listening line: " + String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
        let answer = try HTTPTestClient.request(port: p, "POST", "/v1/generate", body: Array(#"{"prompt": "Hello", "max_tokens": 3}"#.utf8))
        XCTAssertEqual(answer.status, 200)
        let id = try XCTUnwrap(answer.json["trace_id"] as? String)
        XCTAssertTrue(FileManager.default.fileExists(atPath: traces + "/" + id + ".trace"))

        process.interrupt()
        for _ in 0 ..< 1000 where process.isRunning { usleep(10_000) }
        XCTAssertFalse(process.isRunning, "still running 10 s after SIGINT")
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let log = String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        XCTAssertTrue(log.contains("lockstep: POST /v1/generate 200 "), log)
    }

    func testBadOptionsAndAnUnusableAddressFail() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny.gguf").path
        XCTAssertEqual(try CLIRunner.run(["tiny-model", "--out", model]).status, 0)
        let badPort = try CLIRunner.run(["serve", "--model", model, "--port", "70000"])
        XCTAssertNotEqual(badPort.status, 0)
        XCTAssertTrue(badPort.stderr.contains("--port must be in 0 … 65535, got 70000"), badPort.stderr)
        let badHost = try CLIRunner.run(["serve", "--model", model, "--host", "203.0.113.7", "--port", "0", "--trace-dir", dir.path + "/t"], timeout: 60)
        XCTAssertEqual(badHost.status, 1, badHost.stderr)
        XCTAssertTrue(badHost.stderr.contains("lockstep: error: cannot serve on 203.0.113.7:0"), badHost.stderr)
        let file = dir.appendingPathComponent("a-file").path
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1])))
        let badDir = try CLIRunner.run(["serve", "--model", model, "--port", "0", "--trace-dir", file])
        XCTAssertEqual(badDir.status, 1)
        XCTAssertTrue(badDir.stderr.contains("lockstep: error: trace directory \(file)"), badDir.stderr)
    }
}
