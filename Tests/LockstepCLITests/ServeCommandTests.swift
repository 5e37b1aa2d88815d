import Foundation
import XCTest
import Lockstep
import LockstepTestSupport

/// `lockstep serve` as an operator runs it: it says where it listens, answers, logs each answer,
/// keeps the trace, and stops cleanly on Ctrl-C; bad options fail before it listens.
final class ServeCommandTests: XCTestCase {
    func testServesLogsAndStopsOnInterrupt() throws {
        let (dir, model) = try tinyModelDirectory()
        let traces = dir.appendingPathComponent("traces").path
        let errURL = dir.appendingPathComponent("stderr")
        let (process, p) = try Self.startNode(model: model, traces: traces, log: errURL)
        defer { if process.isRunning { process.terminate() } }
        let answer = try HTTPTestClient.request(port: p, "POST", "/v1/generate", body: Array(#"{"prompt": "Hello", "max_tokens": 3}"#.utf8))
        XCTAssertEqual(answer.status, 200)
        let id = try XCTUnwrap(answer.json["trace_id"] as? String)
        XCTAssertTrue(FileManager.default.fileExists(atPath: traces + "/" + id + ".trace"))

        // A verifier fetches the trace from the live node by its URL.
        let url = "http://127.0.0.1:\(p)" + (try XCTUnwrap(answer.json["trace_url"] as? String))
        let replay = try BuiltProduct.run("lockstep-verify", ["replay", "--model", model, "--trace", url, "--json"])
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
        // Pinned to the node's key: holds; pinned to another key: a false claim; not a key: unusable.
        let key = try XCTUnwrap(try HTTPTestClient.request(port: p, "GET", "/v1/info").json["public_key"] as? String)
        let pinned = try BuiltProduct.run("lockstep-verify", ["replay", "--model", model, "--trace", url, "--public-key", key])
        XCTAssertEqual(pinned.status, 0, pinned.stdout + pinned.stderr)
        let otherKey = NodeKey.generate().publicKey.hex
        let wrong = try BuiltProduct.run("lockstep-verify", ["replay", "--model", model, "--trace", url, "--public-key", otherKey])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stdout.contains("the commitment is signed by \(key), expected \(otherKey)"), wrong.stdout)
        let notKey = try BuiltProduct.run("lockstep-verify", ["replay", "--model", model, "--trace", url, "--public-key", "abc"])
        XCTAssertEqual(notKey.status, 2)
        XCTAssertTrue(notKey.stderr.contains("--public-key: 'abc' is not an Ed25519 public key"), notKey.stderr)
        // The trace with states of the same answer, which the node recomputes on demand.
        let spot = try BuiltProduct.run("lockstep-verify", ["spot-check", "--model", model, "--trace", url + "-states", "--samples", "8", "--public-key", key])
        XCTAssertEqual(spot.status, 0, spot.stdout + spot.stderr)
        // Without states: the trace comes without them and the node opens only what the check needs.
        let fetched = try BuiltProduct.run("lockstep-verify", ["spot-check", "--model", model, "--trace", url, "--samples", "8", "--json"])
        XCTAssertEqual(fetched.status, 0, fetched.stdout + fetched.stderr)
        let report = (try JSONSerialization.jsonObject(with: Data(fetched.stdout.utf8))) as? [String: Any] ?? [:]
        XCTAssertEqual(report["states_from"] as? String, "node", fetched.stdout)
        let statesPath = traces + "/" + id + "-states.trace"
        let statesFile = try Data(contentsOf: URL(fileURLWithPath: statesPath))
        XCTAssertGreaterThan(report["states_fetched_bytes"] as? Int ?? 0, 0, fetched.stdout)
        XCTAssertLessThan(report["states_fetched_bytes"] as? Int ?? .max, statesFile.count, fetched.stdout)
        // More states than --max-download-bytes allows: unusable (2) before anything is asked.
        let traceBytes = try XCTUnwrap(answer.json["trace_bytes"] as? Int)
        let small = try BuiltProduct.run("lockstep-verify", ["spot-check", "--model", model, "--trace", url, "--samples", "1000",
                                                             "--max-download-bytes", "\(traceBytes)"])
        XCTAssertEqual(small.status, 2, small.stdout + small.stderr)
        XCTAssertTrue(small.stderr.contains("more than --max-download-bytes \(traceBytes)"), small.stderr)
        // A node that opens a state its leaf does not commit to (one bit of E(0), which every
        // layer-0 step reads, flipped in its file): a false claim.
        let e0 = try TraceIndex(path: statesPath).storedState(at: 0)
        var lying = statesFile
        let at = try XCTUnwrap(lying.range(of: Data(e0))).lowerBound
        lying[at] ^= 1
        try lying.write(to: URL(fileURLWithPath: statesPath))
        let lied = try BuiltProduct.run("lockstep-verify", ["spot-check", "--model", model, "--trace", url, "--samples", "1000"])
        XCTAssertEqual(lied.status, 1, lied.stdout + lied.stderr)
        XCTAssertTrue(lied.stdout.contains("FAILED: step 0: the opened state does not hash to the leaf's step digest"), lied.stdout)
        // Unusable: no such trace, a trace longer than the verifier accepts, no node there (2, with the URL).
        let missing = try BuiltProduct.run("lockstep-verify", ["replay", "--model", model, "--trace", "http://127.0.0.1:\(p)/v1/traces/" + String(repeating: "0", count: 64)])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("status 404"), missing.stderr)
        let capped = try BuiltProduct.run("lockstep-verify", ["replay", "--model", model, "--trace", url, "--max-download-bytes", "100"])
        XCTAssertEqual(capped.status, 2)
        XCTAssertTrue(capped.stderr.contains("the answer is longer than 100 bytes"), capped.stderr)
        let tmp = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
        XCTAssertFalse(tmp.contains { $0.hasPrefix("lockstep-verify-") && $0.hasSuffix(".trace") }, "a downloaded trace was left behind")

        process.interrupt()
        for _ in 0 ..< 1000 where process.isRunning { usleep(10_000) }
        XCTAssertFalse(process.isRunning, "still running 10 s after SIGINT")
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let log = String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        XCTAssertTrue(log.contains("lockstep: POST /v1/generate 200 "), log)
    }

    /// A dispute between two traces without states, given by their URLs: the referee asks the
    /// nodes for the agreed inputs of the first divergent step. The node that kept a faulty trace
    /// cannot open its states (its replay does not reproduce the commitment), so they come from
    /// the honest one; either order names the honest trace.
    func testDisputeBetweenNodesOpensTheAgreedStatesFromANode() throws {
        let (dir, model) = try tinyModelDirectory()
        let traces = dir.appendingPathComponent("traces").path
        let (process, port) = try Self.startNode(model: model, traces: traces, log: dir.appendingPathComponent("stderr"))
        defer { if process.isRunning { process.terminate() } }
        let answer = try HTTPTestClient.request(port: port, "POST", "/v1/generate", body: Array(#"{"prompt": "Hello", "max_tokens": 4}"#.utf8))
        XCTAssertEqual(answer.status, 200)
        let honest = "http://127.0.0.1:\(port)" + (try XCTUnwrap(answer.json["trace_url"] as? String))
        // A cheating node's answer to the same request, kept where the node serves traces.
        let key = dir.appendingPathComponent("cheat.key").path, faultyFile = dir.appendingPathComponent("faulty.trace").path
        XCTAssertEqual(try CLIRunner.run(["keygen", "--out", key]).status, 0)
        let made = try CLIRunner.run(["generate", "--model", model, "--prompt", "Hello", "--max-tokens", "4", "--inject-fault", "1:1",
                                      "--trace", faultyFile, "--key", key, "--json"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let faultyID = SHA256Hasher.hash(try TraceReader.read(path: faultyFile).signed.commitment.encoding).hex
        try FileManager.default.copyItem(atPath: faultyFile, toPath: traces + "/" + faultyID + ".trace")
        let faulty = "http://127.0.0.1:\(port)/v1/traces/" + faultyID

        let aHonest = try BuiltProduct.run("lockstep-verify", ["dispute", "--model", model, honest, faulty, "--json"])
        XCTAssertEqual(aHonest.status, 0, aHonest.stdout + aHonest.stderr)
        XCTAssertTrue(aHonest.stdout.contains(#""right":"A""#), aHonest.stdout)
        XCTAssertTrue(aHonest.stdout.contains(#""states_from":"node A""#), aHonest.stdout)
        let aFaulty = try BuiltProduct.run("lockstep-verify", ["dispute", "--model", model, faulty, honest, "--json",
                                                               "--proof-out", dir.appendingPathComponent("proof").path])
        XCTAssertEqual(aFaulty.status, 1, aFaulty.stdout + aFaulty.stderr)
        XCTAssertTrue(aFaulty.stdout.contains(#""right":"B""#), aFaulty.stdout)
        XCTAssertTrue(aFaulty.stdout.contains(#""states_from":"node B""#), aFaulty.stdout)
        let checked = try BuiltProduct.run("lockstep-verify", ["check-proof", "--model", model, dir.appendingPathComponent("proof").path])
        XCTAssertEqual(checked.status, 0, checked.stdout + checked.stderr)
        // B a local file without states: only the faulty node could open them, and it cannot (2, naming why).
        let local = dir.appendingPathComponent("honest.trace").path
        try Data(try HTTPTestClient.request(port: port, "GET", String(honest.dropFirst("http://127.0.0.1:\(port)".count))).body)
            .write(to: URL(fileURLWithPath: local))
        let stuck = try BuiltProduct.run("lockstep-verify", ["dispute", "--model", model, faulty, local])
        XCTAssertEqual(stuck.status, 2, stuck.stdout + stuck.stderr)
        XCTAssertTrue(stuck.stderr.contains("no node opened the agreed states the referee needs (A: "), stuck.stderr)
        XCTAssertTrue(stuck.stderr.contains("status 500"), stuck.stderr)
    }

    func testBadOptionsAndAnUnusableAddressFail() throws {
        let (dir, model) = try tinyModelDirectory()
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
        XCTAssertTrue(badDir.stderr.contains("lockstep: error: trace directory \(file): not a directory"), badDir.stderr)
        // A directory no file can be made in (as root, permissions do not stop it; /proc does) is
        // refused at start (the node served and answered every request 500).
        let proc = try CLIRunner.run(["serve", "--model", model, "--port", "0", "--trace-dir", "/proc"])
        XCTAssertEqual(proc.status, 1, proc.stderr)
        XCTAssertTrue(proc.stderr.contains("lockstep: error: trace directory /proc: cannot create a file in it ("), proc.stderr)
    }

    /// A fresh directory, removed after the test, holding the tiny model at `model`.
    private func tinyModelDirectory() throws -> (dir: URL, model: String) {
        let dir = try CLIRunner.temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny.gguf").path
        XCTAssertEqual(try CLIRunner.run(["tiny-model", "--out", model]).status, 0)
        return (dir, model)
    }

    /// `lockstep serve` on a free loopback port with its stderr in `log`; the process and the port
    /// its listening line names.
    static func startNode(model: String, traces: String, log: URL) throws -> (Process, Int) {
        let binary = BuiltProduct.directory.appendingPathComponent("lockstep")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("lockstep not built") }
        XCTAssertTrue(FileManager.default.createFile(atPath: log.path, contents: nil))
        let err = try FileHandle(forWritingTo: log)
        defer { try? err.close() }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--model", model, "--port", "0", "--trace-dir", traces]
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // The listening line names the port (0 asked for any free one).
        var port: Int?
        for _ in 0 ..< 1000 where port == nil {
            let text = String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self)
            if let range = text.range(of: #"on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)
            }
            if port == nil { usleep(10_000) }
        }
        guard let port else {
            process.terminate()
            throw XCTSkip("no listening line: " + String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self))
        }
        return (process, port)
    }
}
