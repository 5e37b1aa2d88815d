import Foundation
import XCTest
import Lockstep

final class CommandTests: XCTestCase {
    private func tinyModelPath(_ dir: URL) throws -> String {
        let path = dir.appendingPathComponent("tiny.gguf").path
        let r = try CLIRunner.run(["tiny-model", "--out", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    func testGenerateJSONHasTokensAndText() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelPath(dir)
        let r = try CLIRunner.run(["generate", "--model", model, "--prompt", "Hello world", "--max-tokens", "5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let tokens = object["tokens"] as! [Int]
        XCTAssertEqual(tokens.count, 5)
        XCTAssertFalse((object["prompt_tokens"] as! [Int]).isEmpty)
        XCTAssertNotNil(object["text"] as? String)
        // Text mode streams the same tokens.
        let text = try CLIRunner.run(["generate", "--model", model, "--prompt", "Hello world", "--max-tokens", "5"])
        XCTAssertEqual(text.stdout, (object["text"] as! String) + "\n")
    }

    func testScoreJSONShapes() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelPath(dir)
        let textFile = dir.appendingPathComponent("text.txt")
        try "The capital of France is Paris. The quick brown fox.".write(to: textFile, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["score", "--model", model, "--text-file", textFile.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let n = (object["tokens"] as! [Int]).count
        XCTAssertEqual((object["top1"] as! [Int]).count, n - 1)
        XCTAssertEqual((object["nll"] as! [Double]).count, n - 1)
        XCTAssertGreaterThan(object["perplexity"] as! Double, 1)
    }

    func testInfoPrintsDigestAndBadArgumentsFail() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelPath(dir)
        let r = try CLIRunner.run(["info", "--model", model, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((object["model_digest"] as! String).count, 64)
        XCTAssertEqual(try CLIRunner.run(["info", "--model", model, "--json"]).stdout, r.stdout)   // deterministic
        XCTAssertNotEqual(try CLIRunner.run(["generate", "--model", model, "--prompt", "x", "--backend", "nope"]).status, 0)
        XCTAssertNotEqual(try CLIRunner.run(["generate", "--model", model, "--prompt", "x", "--max-tokens", "-1"]).status, 0)
        XCTAssertNotEqual(try CLIRunner.run(["info", "--model", dir.appendingPathComponent("missing.gguf").path]).status, 0)
    }

    func testFallsBackToTheTinyModelWhenTheRealOneIsMissing() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["generate", "--prompt", "Hello", "--max-tokens", "3"],
                                  environment: ["LOCKSTEP_CACHE": dir.path, "LOCKSTEP_MODEL": ""])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("built-in tiny model"), r.stderr)
    }
}
